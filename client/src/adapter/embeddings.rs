//! `POST /v1/embeddings`: the request's prompt as the embeddings `input`, the vectors back as
//! the stack's response. An embedding has no completion: its usage counts prompt tokens only,
//! and it has no text, finish reason or stream.

use gauntlet_wire::openai::embeddings::{
    EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector, EncodingFormat,
};
use gauntlet_wire::openai::Usage;

use crate::error::ClientError;
use crate::request::{ChatRequest, ChatResponse, Outcome};

/// How many inputs `req` embeds: one (the workload's prompt), or for a proxied caller's body
/// the inputs it sent, one message each.
pub(super) fn inputs(req: &ChatRequest) -> usize {
    req.passthrough
        .as_ref()
        .map_or(1, |p| p.embedding_inputs())
        .clamp(1, req.messages.len().max(1))
}

/// The embeddings body of `req`: the last message's text, the prompt the workload sent (the
/// context layer's system prompt and history before it are dialogue, which an embedding does
/// not take), or the last [`inputs`] messages' texts for a caller who sent several. Vectors are
/// asked for as floats, which the stack keeps as they are.
pub(super) fn body(req: &ChatRequest) -> EmbeddingRequest {
    let n = inputs(req);
    let texts = req.messages[req.messages.len().saturating_sub(n)..].iter();
    let input = if n == 1 {
        EmbeddingInput::Text(req.messages.last().map(|m| m.text()).unwrap_or_default())
    } else {
        EmbeddingInput::Texts(texts.map(|m| m.text()).collect())
    };
    EmbeddingRequest {
        model: req.model.clone(),
        input,
        encoding_format: Some(EncodingFormat::Float),
        dimensions: None,
        user: None,
    }
}

/// A base64 vector: little-endian `f32`s, as the API sends for `encoding_format: "base64"`.
fn decode_base64(text: &str) -> Result<Vec<f32>, ClientError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ClientError::Malformed(format!("embeddings: bad base64 vector: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(ClientError::Malformed(format!(
            "embeddings: a base64 vector of {} bytes is not whole f32s",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// An embeddings answer: one float vector per input (`inputs` were sent), in input order (by
/// each vector's `index`, which must name every input once).
pub(super) fn answer(bytes: &[u8], inputs: usize) -> Result<ChatResponse, ClientError> {
    let mut r: EmbeddingResponse = serde_json::from_slice(bytes)
        .map_err(|e| ClientError::Malformed(format!("embeddings: {e}")))?;
    if r.data.len() != inputs {
        return Err(ClientError::Malformed(format!(
            "embeddings: {} vectors for {inputs} inputs",
            r.data.len()
        )));
    }
    r.data.sort_by_key(|e| e.index);
    if r.data
        .iter()
        .enumerate()
        .any(|(i, e)| e.index as usize != i)
    {
        return Err(ClientError::Malformed(
            "embeddings: the vectors' indexes do not name each input once".into(),
        ));
    }
    let embeddings = r
        .data
        .into_iter()
        .map(|e| match e.embedding {
            EmbeddingVector::Float(v) => Ok(v),
            // What a proxied caller asked for (the SDKs' default): the caller gets the upstream's
            // own body; the stack keeps the floats.
            EmbeddingVector::Base64(b) => decode_base64(&b),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChatResponse {
        usage: Some(Usage {
            prompt_tokens: r.usage.prompt_tokens,
            completion_tokens: 0,
            total_tokens: r.usage.total_tokens,
        }),
        finish_reason: None,
        embeddings,
        ..ChatResponse::local(String::new(), Outcome::Upstream)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::ChatMessage;

    #[test]
    fn a_base64_vector_reads_as_its_floats_and_a_ragged_one_is_malformed() {
        use base64::Engine as _;
        let floats = [0.5f32, -0.25, 1.0];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode_base64(&b64).unwrap(), floats);
        let ragged = base64::engine::general_purpose::STANDARD.encode(&bytes[..5]);
        assert!(matches!(
            decode_base64(&ragged),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            decode_base64("not base64!"),
            Err(ClientError::Malformed(_))
        ));
    }

    #[test]
    fn the_prompt_is_the_input() {
        let req = ChatRequest {
            messages: vec![
                ChatMessage::new("system", "be brief"),
                ChatMessage::new("user", "rate limiting"),
            ],
            stream: true,
            max_tokens: Some(5),
            ..ChatRequest::user_text("text-embedding-3-small", "")
        };
        let json = serde_json::to_value(body(&req)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"model": "text-embedding-3-small", "input": "rate limiting", "encoding_format": "float"})
        );
        let back: EmbeddingRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, body(&req));
    }

    #[test]
    fn vectors_and_prompt_usage_are_read() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5,1.0]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#;
        let r = answer(body, 1).unwrap();
        assert_eq!(r.embeddings, vec![vec![0.25, -0.5, 1.0]]);
        assert_eq!(
            r.usage,
            Some(Usage {
                prompt_tokens: 4,
                completion_tokens: 0,
                total_tokens: 4
            })
        );
        assert_eq!((r.text.as_str(), r.finish_reason), ("", None));
    }

    #[test]
    fn several_inputs_are_sent_and_read_back_in_input_order() {
        use crate::passthrough::Passthrough;
        use std::sync::Arc;
        let sent = vec![ChatMessage::new("user", "a"), ChatMessage::new("user", "b")];
        let mut req = ChatRequest {
            messages: sent.clone(),
            ..ChatRequest::user_text("m", "")
        };
        req.passthrough = Some(Arc::new(Passthrough::new(
            serde_json::Map::new(),
            sent,
            None,
        )));
        // The context layer's history before the inputs is not embedded.
        req.messages
            .insert(0, ChatMessage::new("system", "be brief"));
        assert_eq!(inputs(&req), 2);
        assert_eq!(
            serde_json::to_value(body(&req)).unwrap()["input"],
            serde_json::json!(["a", "b"])
        );
        let two = br#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[2.0]},{"object":"embedding","index":0,"embedding":[1.0]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        assert_eq!(
            answer(two, 2).unwrap().embeddings,
            vec![vec![1.0], vec![2.0]]
        );
        assert_eq!(answer(two, 1).unwrap_err().kind(), "malformed");
        let twice = br#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[2.0]},{"object":"embedding","index":1,"embedding":[1.0]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        assert_eq!(answer(twice, 2).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn wrong_answers_are_malformed() {
        for bad in [
            &br#"{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#[..],
            br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACA"}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#,
            br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":1,"embedding":[1]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"#,
            br#"{"choices":[]}"#,
            b"",
        ] {
            assert_eq!(answer(bad, 1).unwrap_err().kind(), "malformed");
        }
    }
}
