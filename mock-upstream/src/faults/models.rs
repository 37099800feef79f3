//! The fault file's `models`: which models exist, and what each one's free tier allows.
//!
//! An entry is a model name, or a table with the model's own `requests_per_minute`,
//! `tokens_per_minute`, `requests_per_day` and `latency`, because a provider's free tier limits
//! (and serves) each model differently:
//!
//! ```toml
//! models = [
//!     "gpt-4o-mini",
//!     { id = "gpt-4o", requests_per_minute = 3, latency = { distribution = "fixed", value = "2s" } },
//! ]
//! ```
//!
//! A file that lists models makes them the only ones: a request naming another gets OpenAI's
//! 404 `model_not_found`. Without `models`, the mock answers for any model name and
//! `GET /v1/models` shows [`default_models`].

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::config::LatencyConfig;
use super::values::Limits;

/// The longest model id accepted: ids go into URLs (`GET /v1/models/{id}`) and error messages.
pub const MAX_MODEL_ID: usize = 256;

/// The most entries `models` may hold; each is compared with every request's model.
pub const MAX_MODELS: usize = 1024;

/// One `models` entry, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    /// The model's name, as requests and `GET /v1/models` spell it.
    pub id: String,
    /// Limits of this model alone; each one set replaces the key's for requests naming the
    /// model, and is counted in buckets of its own per key.
    pub limits: Limits,
    /// Replaces `[latency]` for requests naming the model.
    pub latency: Option<LatencyConfig>,
}

impl ModelEntry {
    /// A model with nothing of its own.
    pub fn named(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            limits: Limits::default(),
            latency: None,
        }
    }

    /// Whether it sets any limit itself, and so needs buckets of its own.
    pub fn has_own_limits(&self) -> bool {
        self.limits != Limits::default()
    }
}

/// A table entry as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelTable {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requests_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokens_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requests_per_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latency: Option<LatencyConfig>,
}

/// Why a `models` entry, or the list, was refused; the message starts with what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelsError {
    /// An empty id, which no request could name.
    #[error("models: a model id must not be empty")]
    EmptyId,
    /// An id over [`MAX_MODEL_ID`] bytes.
    #[error("models: model id is {len} bytes, over the limit of {max}", max = MAX_MODEL_ID)]
    IdTooLong {
        /// Its length.
        len: usize,
    },
    /// The same id twice, so which limits apply would be ambiguous.
    #[error("models: {id:?} is listed twice")]
    Duplicate {
        /// The id.
        id: String,
    },
    /// More than [`MAX_MODELS`] entries.
    #[error("models: {count} entries, over the limit of {max}", max = MAX_MODELS)]
    TooMany {
        /// How many were given.
        count: usize,
    },
    /// `models = []`, which would leave `GET /v1/models` nothing to list.
    #[error("models: list at least one model")]
    Empty,
}

fn check_id(id: &str) -> Result<(), ModelsError> {
    if id.is_empty() {
        Err(ModelsError::EmptyId)
    } else if id.len() > MAX_MODEL_ID {
        Err(ModelsError::IdTooLong { len: id.len() })
    } else {
        Ok(())
    }
}

/// The list's own checks: not empty, not too long, no id twice.
pub fn check_models(models: &[ModelEntry]) -> Result<(), ModelsError> {
    if models.is_empty() {
        return Err(ModelsError::Empty);
    }
    if models.len() > MAX_MODELS {
        return Err(ModelsError::TooMany {
            count: models.len(),
        });
    }
    let mut seen = HashSet::new();
    for m in models {
        check_id(&m.id)?;
        if !seen.insert(m.id.as_str()) {
            return Err(ModelsError::Duplicate { id: m.id.clone() });
        }
    }
    Ok(())
}

/// Serde helper for `models`: each entry checked where it is read, then the list, so every
/// error has a position.
pub(crate) fn de_models<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<ModelEntry>>, D::Error> {
    let models = Vec::<ModelEntry>::deserialize(d)?;
    check_models(&models).map_err(de::Error::custom)?;
    Ok(Some(models))
}

/// What `GET /v1/models` lists when the file lists none.
pub fn default_models() -> &'static [ModelEntry] {
    static DEFAULT: LazyLock<Vec<ModelEntry>> = LazyLock::new(|| {
        vec![
            ModelEntry::named("gpt-4o-mini"),
            ModelEntry::named("gpt-3.5-turbo"),
        ]
    });
    &DEFAULT
}

impl<'de> Deserialize<'de> for ModelEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = ModelEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a model name, or a table with `id` and the model's own limits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ModelEntry, E> {
                check_id(v).map_err(E::custom)?;
                Ok(ModelEntry::named(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ModelEntry, A::Error> {
                let t = ModelTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                check_id(&t.id).map_err(de::Error::custom)?;
                Ok(ModelEntry {
                    id: t.id,
                    limits: Limits {
                        requests_per_minute: t.requests_per_minute,
                        tokens_per_minute: t.tokens_per_minute,
                        requests_per_day: t.requests_per_day,
                    },
                    latency: t.latency,
                })
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

/// A plain name when the model has nothing of its own, so a file read and written back (as
/// `GET /_mock/faults` does) looks like what was written.
impl Serialize for ModelEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !self.has_own_limits() && self.latency.is_none() {
            return s.serialize_str(&self.id);
        }
        ModelTable {
            id: self.id.clone(),
            requests_per_minute: self.limits.requests_per_minute,
            tokens_per_minute: self.limits.tokens_per_minute,
            requests_per_day: self.limits.requests_per_day,
            latency: self.latency.clone(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct File {
        #[serde(default, deserialize_with = "de_models")]
        models: Option<Vec<ModelEntry>>,
    }

    fn read(text: &str) -> Result<Vec<ModelEntry>, String> {
        toml::from_str::<File>(text)
            .map(|f| f.models.unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_and_tables_mix() {
        let m = read(
            "models = [\"a\", { id = \"b\", requests_per_minute = 3, \
             latency = { distribution = \"fixed\", value = \"2s\" } }]",
        )
        .unwrap();
        assert_eq!(m[0], ModelEntry::named("a"));
        assert_eq!(m[1].limits.requests_per_minute, Some(3));
        assert!(m[1].has_own_limits());
        assert_eq!(m[1].latency.as_ref().unwrap().base.median(), 2.0, "seconds");
        // Written back as read: a name stays a name.
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json[0], "a");
        assert_eq!(json[1]["requests_per_minute"], 3);
        let back: Vec<ModelEntry> = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn array_of_tables_works_too() {
        let m =
            read("[[models]]\nid = \"x\"\nrequests_per_day = 5\n[[models]]\nid = \"y\"\n").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].limits.requests_per_day, Some(5));
        assert!(!m[1].has_own_limits());
    }

    #[test]
    fn bad_entries_are_refused() {
        for (text, says) in [
            ("models = []", "list at least one model"),
            ("models = [\"\"]", "must not be empty"),
            ("models = [\"a\", { id = \"a\" }]", "\"a\" is listed twice"),
            ("models = [{ id = \"a\", rpm = 3 }]", "unknown field `rpm`"),
            (
                "models = [{ requests_per_minute = 3 }]",
                "missing field `id`",
            ),
            ("models = [7]", "a model name, or a table"),
            (
                "models = [{ id = \"a\", latency = { distribution = \"fixed\" } }]",
                "value",
            ),
        ] {
            let e = read(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        let long = format!("models = [\"{}\"]", "m".repeat(MAX_MODEL_ID + 1));
        assert!(read(&long).unwrap_err().contains("over the limit"));
    }
}
