//! `prompts = { dataset = "FILE.json" }`: conversations in the ShareGPT format most LLM
//! benchmarks use, as the prompt and multi-turn source. Each session is one conversation: its
//! `human` turns are sent in order (the `gpt` turns are what the upstream answers now; `system`
//! turns are left to the client's context layer, which has its own system prompt).
//!
//! ```json
//! [{ "id": "c1", "conversations": [
//!     { "from": "human", "value": "What is a token bucket?" },
//!     { "from": "gpt", "value": "A rate limiter that ..." },
//!     { "from": "human", "value": "And a leaky bucket?" } ] }]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::workload::LIMITS;

/// Largest dataset file read (it is held in memory while the run lasts).
pub const MAX_DATASET_BYTES: u64 = 64 << 20;

/// One conversation: its id and the user's turns in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The dataset's `id` (or its position when it has none), for error messages.
    pub id: String,
    /// The `human` turns' text, in order; never empty.
    pub turns: Vec<String>,
}

/// A loaded and checked dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// In file order; never empty.
    pub conversations: Vec<Conversation>,
}

/// Why a dataset cannot be used; each names the file, and a bad entry where it is.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The dataset file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file beyond [`MAX_DATASET_BYTES`].
    #[error("{path}: {size} bytes; a dataset is at most {MAX_DATASET_BYTES} bytes (take a sample of it)")]
    TooLarge {
        /// The dataset file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Not the ShareGPT format.
    #[error("{path}:{line}:{column}: {message} (expected a JSON array of {{\"id\", \"conversations\": [{{\"from\": \"human\"|\"gpt\"|\"system\", \"value\"}}]}})")]
    Syntax {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// An entry that makes no session.
    #[error("{path}: conversation {index} (id {id:?}): {message}")]
    Entry {
        /// The dataset file.
        path: PathBuf,
        /// Its position in the array, from 0.
        index: usize,
        /// Its id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// An empty array.
    #[error("{path}: the dataset has no conversation")]
    Empty {
        /// The dataset file.
        path: PathBuf,
    },
}

/// Who speaks a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum From {
    Human,
    Gpt,
    System,
}

#[derive(Deserialize)]
struct RawTurn {
    from: From,
    value: String,
}

/// Other keys an entry has (ShareGPT dumps carry a few) are ignored.
#[derive(Deserialize)]
struct RawConversation {
    #[serde(default)]
    id: Option<String>,
    conversations: Vec<RawTurn>,
}

impl Dataset {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, DatasetError> {
        let io = |source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_DATASET_BYTES {
            return Err(DatasetError::TooLarge {
                path: path.to_path_buf(),
                size,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&text, path)
    }

    /// Parses and checks dataset text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DatasetError> {
        let raw: Vec<RawConversation> =
            serde_json::from_str(text).map_err(|e| DatasetError::Syntax {
                path: path.to_path_buf(),
                line: e.line().max(1),
                column: e.column().max(1),
                message: {
                    let full = e.to_string();
                    let suffix = format!(" at line {} column {}", e.line(), e.column());
                    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
                },
            })?;
        if raw.is_empty() {
            return Err(DatasetError::Empty {
                path: path.to_path_buf(),
            });
        }
        let mut conversations = Vec::with_capacity(raw.len());
        for (index, c) in raw.into_iter().enumerate() {
            let id = c.id.unwrap_or_else(|| index.to_string());
            let entry = |message: String| DatasetError::Entry {
                path: path.to_path_buf(),
                index,
                id: id.clone(),
                message,
            };
            if index as u64 >= u64::from(LIMITS.distinct) {
                return Err(entry(format!("at most {} conversations", LIMITS.distinct)));
            }
            let turns: Vec<String> = c
                .conversations
                .into_iter()
                .filter(|t| t.from == From::Human)
                .map(|t| t.value)
                .collect();
            if turns.is_empty() {
                return Err(entry("has no \"human\" turn to send".into()));
            }
            if turns.iter().any(|t| t.trim().is_empty()) {
                return Err(entry("a \"human\" turn is empty".into()));
            }
            if turns.len() > LIMITS.turns as usize {
                return Err(entry(format!("at most {} human turns", LIMITS.turns)));
            }
            conversations.push(Conversation { id, turns });
        }
        Ok(Self { conversations })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset, String> {
        Dataset::parse(text, Path::new("d.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn human_turns_in_order_make_a_session() {
        let d = parse(r#"[{"id": "a", "conversations": [{"from": "system", "value": "be brief"}, {"from": "human", "value": "one"}, {"from": "gpt", "value": "ok"}, {"from": "human", "value": "two"}], "model": "x"}]"#).unwrap();
        assert_eq!(d.conversations[0].turns, ["one", "two"]);
        assert_eq!(d.conversations[0].id, "a");
    }

    #[test]
    fn errors_say_where() {
        let e = parse(
            "[{\"id\": \"a\",\n \"conversations\": [{\"from\": \"robot\", \"value\": \"x\"}]}]",
        )
        .unwrap_err();
        assert!(e.starts_with("d.json:2:"), "{e}");
        assert!(e.contains("robot"), "{e}");
        let e = parse(r#"[{"id": "a", "conversations": [{"from": "gpt", "value": "x"}]}]"#)
            .unwrap_err();
        assert!(
            e.contains("conversation 0 (id \"a\"): has no \"human\" turn"),
            "{e}"
        );
        assert!(parse("[]").unwrap_err().contains("no conversation"));
        assert!(parse("{}").unwrap_err().starts_with("d.json:1:1"));
    }

    #[test]
    fn the_shipped_sample_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/data/sharegpt-sample.json"
        );
        let d = Dataset::load(Path::new(path)).unwrap();
        assert!(d.conversations.len() >= 50, "{}", d.conversations.len());
        assert!(d.conversations.iter().any(|c| c.turns.len() >= 3));
    }
}
