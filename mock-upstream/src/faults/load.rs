//! Reading fault files, with errors that point at `path:line:col`.

use std::path::Path;

use super::config::{FaultConfig, FaultConfigError, FaultConfigSpec};

/// Why a fault config could not be used; each variant says where and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: {source}")]
    Io {
        /// The path as given, so the message names what the user typed.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A value is wrong; `line` and `column` are 1-based.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file (or `request body` for a live update).
        path: String,
        /// Line of the bad value.
        line: usize,
        /// Column of the bad value.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// Turns a `toml` error into one naming `path:line:col`.
pub fn toml_error(text: &str, path: &str, err: &toml::de::Error) -> ConfigError {
    let (line, column) = err
        .span()
        .map(|s| line_col(text, s.start))
        .unwrap_or((1, 1));
    ConfigError::Invalid {
        path: path.to_string(),
        line,
        column,
        message: err.message().trim().to_string(),
    }
}

/// Parses a fault config from TOML text; `path` is used in errors.
pub fn parse_toml(text: &str, path: &str) -> Result<FaultConfig, ConfigError> {
    let spec: FaultConfigSpec = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
    validate(spec, text, path)
}

/// Parses a fault config from JSON text; errors name the field's path.
pub fn parse_json(text: &str, path: &str) -> Result<FaultConfig, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let spec: FaultConfigSpec =
        serde_path_to_error::deserialize(de).map_err(|e| json_error(text, path, e))?;
    validate(spec, text, path)
}

/// A `serde_json` error as `path:line:col: field: message`. serde_json puts the position in
/// its message too, and reports column 0 right after a newline; neither reads well here.
fn json_error(
    text: &str,
    path: &str,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> ConfigError {
    let field = e.path().to_string();
    let inner = e.into_inner();
    let full = inner.to_string();
    let suffix = format!(" at line {} column {}", inner.line(), inner.column());
    let bare = full.strip_suffix(&suffix).unwrap_or(&full);
    let key = last_key(&field);
    let message = if field == "." || bare.starts_with(&format!("{field}:")) {
        bare.to_string()
    } else {
        format!("{field}: {bare}")
    };
    let reported = (inner.line(), inner.column().max(1));
    let (line, column) = match (inner.line(), key) {
        // No position (an error about the document as a whole): the key, if one is named.
        (0, Some(key)) => locate_text(text, &format!("\"{key}\"")).unwrap_or((1, 1)),
        (0, None) => (1, 1),
        // A value refused by its own check: serde_json reports where reading stopped, which
        // can be past the value (even on the next line); the key just before that is the field.
        (_, Some(key)) if inner.is_data() => {
            let end = offset_of(text, reported.0, reported.1);
            text[..end]
                .rfind(&format!("\"{key}\""))
                .map(|i| line_col(text, i))
                .unwrap_or(reported)
        }
        _ => reported,
    };
    ConfigError::Invalid {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

/// The last key of a `serde_path_to_error` path (`timeline[0].multiplier` → `multiplier`);
/// `None` when the path ends in an index or is the document itself.
fn last_key(path: &str) -> Option<&str> {
    let last = path.rsplit('.').next().unwrap_or(path);
    (!last.is_empty() && !last.ends_with(']')).then_some(last)
}

/// Byte offset of a 1-based line and column (in characters), clamped to the text.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let within = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    (line_start + within).min(text.len())
}

/// The checks on the file as a whole, after every field passed its own. Their errors have no
/// position from serde, so they point at what they are about (see [`position_of`]).
fn validate(spec: FaultConfigSpec, text: &str, path: &str) -> Result<FaultConfig, ConfigError> {
    FaultConfig::from_spec(spec).map_err(|e| {
        let (line, column) = position_of(text, &e);
        ConfigError::Invalid {
            path: path.to_string(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

/// Where in `text` a whole-file error is best shown: the key a timeline event names, found as
/// a quoted string after the first `timeline`; otherwise the top-level key the error is about.
/// Falls back to 1:1.
fn position_of(text: &str, e: &FaultConfigError) -> (usize, usize) {
    let found = match e {
        FaultConfigError::UnlistedTimelineKey { key, .. } => {
            let start = text.find("timeline").unwrap_or(0);
            [format!("\"{key}\""), format!("'{key}'")]
                .iter()
                .filter_map(|q| text[start..].find(q.as_str()))
                .min()
                .map(|i| line_col(text, start + i))
        }
        FaultConfigError::DuplicateKey { .. } => locate_text(text, "keys"),
        FaultConfigError::Models(_) => locate_text(text, "models"),
        FaultConfigError::BodyLimitTooSmall { .. } | FaultConfigError::BodyLimitTooLarge { .. } => {
            locate_text(text, "max_body_bytes")
        }
        FaultConfigError::Concurrency(_) => locate_text(text, "concurrency"),
        FaultConfigError::Stream(_) => locate_text(text, "stream"),
        FaultConfigError::Reply(_) => locate_text(text, "reply"),
    };
    found.unwrap_or((1, 1))
}

/// Line and column of the first occurrence of `needle`, if any.
fn locate_text(text: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    text.find(needle).map(|i| line_col(text, i))
}

/// Reads a fault file; `.json` files are JSON, everything else TOML.
pub fn load_file(path: &Path) -> Result<FaultConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: shown.clone(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "json") {
        parse_json(&text, &shown)
    } else {
        parse_toml(&text, &shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_toml(text, "f.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_point_at_the_value() {
        let e = err("seed = 1\n[latency]\ndistribution = \"fixed\"\nvalue = \"fast\"\n");
        assert!(
            e.starts_with("f.toml:4:9: invalid duration \"fast\""),
            "{e}"
        );
        let e = err("[limits]\nrequests_per_minutes = 3\n");
        assert!(e.starts_with("f.toml:2:1:"), "{e}");
        assert!(e.contains("requests_per_minutes"), "{e}");
        let e = err("[[failures]]\nkind = \"status\"\nstatus = 503\nprobability = 1.5\n");
        assert!(e.starts_with("f.toml:4:15:"), "{e}");
        assert!(e.contains("outside 0..=1"), "{e}");
        let e = err("[[failures]]\nkind = \"status\"\nstatus = 418\nprobability = 0.5\n");
        assert!(e.starts_with("f.toml:1:1:"), "{e}");
        assert!(e.contains("status 418"), "{e}");
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json(r#"{"limits": {"requests_per_minute": "many"}}"#, "body")
            .unwrap_err()
            .to_string();
        assert!(e.contains("limits.requests_per_minute"), "{e}");
    }

    #[test]
    fn whole_file_errors_point_at_what_they_name() {
        let e = err("[[keys]]\nkey = \"a\"\n\n[[timeline]]\nat = \"1s\"\nkind = \"set\"\nkey = \"zz\"\nlimits = {}\n");
        assert!(e.starts_with("f.toml:7:7: timeline[0]: key \"zz\""), "{e}");
        let e = err("seed = 1\nmax_body_bytes = 3\n");
        assert!(e.starts_with("f.toml:2:18: max_body_bytes"), "{e}");
        let e = err("seed = 1\nmodels = []\n");
        assert!(e.starts_with("f.toml:2:10: models"), "{e}");
        let json = |t: &str| parse_json(t, "body").unwrap_err().to_string();
        let e = json("{\n\"seed\": 1,\n\"max_body_bytes\": 3\n}");
        assert!(
            e.starts_with("body:3:1: max_body_bytes: must be at least 64"),
            "{e}"
        );
        assert!(!e.contains(":0:") && !e.contains("at line"), "{e}");
        let e = json("{\"keys\": [{\"key\": \"a\"}],\n\"timeline\": [\n{\"at\": \"1s\", \"kind\": \"set\", \"key\": \"zz\", \"limits\": {}}]}");
        assert!(e.starts_with("body:3:36: timeline[0]"), "{e}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
