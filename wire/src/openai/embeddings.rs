//! `POST /v1/embeddings` wire types, as OpenAI's published API defines them
//! (`CreateEmbeddingRequest`, `CreateEmbeddingResponse`, `Embedding`).
//!
//! The mock reads the request and writes the response with these, and Gauntlet's client sends
//! and reads them, so both sides agree on every field an official SDK uses. With
//! `encoding_format: "base64"` (what the Node SDK asks for by default, and decodes) each
//! embedding is the base64 of its little-endian `f32` bytes instead of a JSON array.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// `POST /v1/embeddings` request body. Unknown fields are accepted and ignored, as for chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// Model name; echoed back in the response.
    pub model: String,
    /// What to embed: one text, several, or pre-tokenised ids.
    pub input: EmbeddingInput,
    /// `float` (the default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// Shorten each vector to this many dimensions (the `text-embedding-3` family only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// The end user, for abuse monitoring; the mock ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl EmbeddingRequest {
    /// The format the vectors are written in, `float` when the client did not say.
    pub fn format(&self) -> EncodingFormat {
        self.encoding_format.unwrap_or_default()
    }
}

/// How the response writes each vector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// A string: the base64 of the vector's little-endian `f32` bytes.
    Base64,
}

/// The request's `input`: a string, an array of strings, an array of token ids, or an array
/// of token-id arrays (the four forms of OpenAI's `oneOf`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts, one vector each.
    Texts(Vec<String>),
    /// One pre-tokenised input.
    Tokens(Vec<u32>),
    /// Several pre-tokenised inputs, one vector each.
    TokenArrays(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many vectors the response holds.
    pub fn len(&self) -> usize {
        match self {
            EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Texts(v) => v.len(),
            EmbeddingInput::TokenArrays(v) => v.len(),
        }
    }

    /// Whether there is nothing to embed (`[]`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One element of an `input` array while it is read: which form the array has is known only
/// from its elements.
enum Item {
    Text(String),
    Token(u32),
    Tokens(Vec<u32>),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a token id or an array of token ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Item, E> {
                Ok(Item::Text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item, E> {
                u32::try_from(v)
                    .map(Item::Token)
                    .map_err(|_| E::custom(format!("token id {v} is out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Item, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("token id {v} is negative")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8192));
                while let Some(id) = seq.next_element::<u32>()? {
                    ids.push(id);
                }
                Ok(Item::Tokens(ids))
            }
        }
        d.deserialize_any(ItemVisitor)
    }
}

const MIXED: &str =
    "an array's elements must all be strings, all token ids, or all token-id arrays";

/// By hand rather than `#[serde(untagged)]`, which buffers the whole input and tries each form
/// in turn: inputs can be large, and a mixed array deserves an error that says what is wrong.
impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InputVisitor;
        impl<'de> Visitor<'de> for InputVisitor {
            type Value = EmbeddingInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a string, an array of strings, an array of token ids or an array of \
                     token-id arrays",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EmbeddingInput::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(EmbeddingInput::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let Some(first) = seq.next_element::<Item>()? else {
                    return Ok(EmbeddingInput::Texts(Vec::new()));
                };
                let hint = seq.size_hint().unwrap_or(0).min(2048);
                match first {
                    Item::Text(t) => collect(seq, t, hint, EmbeddingInput::Texts, |i| match i {
                        Item::Text(t) => Some(t),
                        _ => None,
                    }),
                    Item::Token(t) => collect(seq, t, hint, EmbeddingInput::Tokens, |i| match i {
                        Item::Token(t) => Some(t),
                        _ => None,
                    }),
                    Item::Tokens(t) => {
                        collect(seq, t, hint, EmbeddingInput::TokenArrays, |i| match i {
                            Item::Tokens(t) => Some(t),
                            _ => None,
                        })
                    }
                }
            }
        }
        d.deserialize_any(InputVisitor)
    }
}

/// The rest of an `input` array, each element of the first's form.
fn collect<'de, A, T>(
    mut seq: A,
    first: T,
    hint: usize,
    wrap: fn(Vec<T>) -> EmbeddingInput,
    same: fn(Item) -> Option<T>,
) -> Result<EmbeddingInput, A::Error>
where
    A: SeqAccess<'de>,
{
    let mut out = Vec::with_capacity(hint + 1);
    out.push(first);
    while let Some(item) = seq.next_element::<Item>()? {
        out.push(same(item).ok_or_else(|| de::Error::custom(MIXED))?);
    }
    Ok(wrap(out))
}

/// `POST /v1/embeddings` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// Always `list`.
    pub object: String,
    /// One embedding per input, in input order.
    pub data: Vec<Embedding>,
    /// The model the request named.
    pub model: String,
    /// Tokens read; embeddings have no completion tokens.
    pub usage: EmbeddingUsage,
}

/// One vector of an [`EmbeddingResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: String,
    /// Position of its input in the request.
    pub index: u32,
    /// The vector, as the request's `encoding_format` asked.
    pub embedding: EmbeddingVector,
}

/// A vector as written: numbers, or base64 of little-endian `f32` bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: "float"`.
    Float(Vec<f32>),
    /// `encoding_format: "base64"`.
    Base64(String),
}

/// Token accounting of an embeddings request: `total_tokens` equals `prompt_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingUsage {
    /// Tokens of every input.
    pub prompt_tokens: u32,
    /// The same figure, as the API reports it.
    pub total_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Result<EmbeddingInput, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn input_takes_the_four_forms() {
        assert_eq!(input(r#""hi""#).unwrap(), EmbeddingInput::Text("hi".into()));
        assert_eq!(
            input(r#"["a","b"]"#).unwrap(),
            EmbeddingInput::Texts(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            input("[1,2,3]").unwrap(),
            EmbeddingInput::Tokens(vec![1, 2, 3])
        );
        assert_eq!(
            input("[[1],[2,3],[]]").unwrap(),
            EmbeddingInput::TokenArrays(vec![vec![1], vec![2, 3], vec![]])
        );
        assert!(input("[]").unwrap().is_empty());
        // Written back the way it is read.
        for json in [r#""hi""#, r#"["a","b"]"#, "[1,2]", "[[1],[2]]"] {
            assert_eq!(serde_json::to_string(&input(json).unwrap()).unwrap(), json);
        }
    }

    #[test]
    fn input_refuses_mixed_and_bad_elements() {
        for (json, says) in [
            (r#"["a",1]"#, "must all be"),
            (r#"[1,"a"]"#, "must all be"),
            ("[[1],2]", "must all be"),
            ("[-1]", "negative"),
            ("[4294967296]", "out of range"),
            ("[1.5]", "a string, a token id"),
            ("7", "a string, an array of strings"),
            ("[[\"a\"]]", "u32"),
        ] {
            let e = input(json).unwrap_err().to_string();
            assert!(e.contains(says), "{json}: {e}");
        }
    }

    #[test]
    fn request_defaults_to_float_and_ignores_unknown_fields() {
        let r: EmbeddingRequest =
            serde_json::from_str(r#"{"model":"m","input":"x","extra":1}"#).unwrap();
        assert_eq!(r.format(), EncodingFormat::Float);
        let r: EmbeddingRequest = serde_json::from_str(
            r#"{"model":"m","input":["x"],"encoding_format":"base64","dimensions":8,"user":"u"}"#,
        )
        .unwrap();
        assert_eq!(r.format(), EncodingFormat::Base64);
        assert_eq!(r.dimensions, Some(8));
        assert!(serde_json::from_str::<EmbeddingRequest>(
            r#"{"model":"m","input":"x","encoding_format":"hex"}"#
        )
        .is_err());
    }

    #[test]
    fn response_reads_both_vector_forms() {
        let body = r#"{"object":"list","model":"m","usage":{"prompt_tokens":2,"total_tokens":2},
            "data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]},
                    {"object":"embedding","index":1,"embedding":"AAAAPw=="}]}"#;
        let r: EmbeddingResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.data[0].embedding,
            EmbeddingVector::Float(vec![0.5, -0.25])
        );
        assert_eq!(
            r.data[1].embedding,
            EmbeddingVector::Base64("AAAAPw==".into())
        );
        assert_eq!(r.usage.total_tokens, 2);
    }
}
