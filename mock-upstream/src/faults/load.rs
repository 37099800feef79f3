//! Reading fault files, with errors that point at `path:line:col`.

use std::path::Path;

use super::config::FaultConfig;

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
    toml::from_str(text).map_err(|e| toml_error(text, path, &e))
}

/// Parses a fault config from JSON text; errors name the field's path.
pub fn parse_json(text: &str, path: &str) -> Result<FaultConfig, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = if field == "." {
            inner.to_string()
        } else {
            format!("{field}: {inner}")
        };
        ConfigError::Invalid {
            path: path.to_string(),
            line: inner.line(),
            column: inner.column(),
            message,
        }
    })
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
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
