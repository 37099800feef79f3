//! The Messages API's request checks, each refusal a 400 `invalid_request_error` whose message
//! starts with the field at fault in the API's own notation (`messages.0.role: ...`).
//!
//! What the real API refuses, and the mock with it: no `anthropic-version` header (or one it
//! does not know), a body that is not a request (a missing `max_tokens` is `max_tokens: Field
//! required`), no messages, a role other than `user`/`assistant`, empty content anywhere but a
//! final assistant turn, an empty text block, `max_tokens` of 0, a temperature or `top_p` outside
//! 0..=1, and a stop sequence of only whitespace. A first turn by the assistant is *not* refused:
//! the API has accepted it since late 2024 (anthropic-sdk-typescript#622).

use axum::http::HeaderMap;
use serde_path_to_error::Segment;

use super::refusal::Refusal;
use gauntlet_wire::anthropic::{Content, ContentBlockParam, MessagesRequest, Role, API_VERSIONS};

/// The most stop sequences the mock reads: each is searched for in the reply, so their number
/// bounds the work per request. A bound of the mock's own (the API documents none).
pub(crate) const MAX_STOP_SEQUENCES: usize = 256;

/// The `anthropic-version` header, required on every request: one of [`API_VERSIONS`], or a
/// date after the newest of them. The API refuses dates that are not versions (a made-up
/// `2024-10-22` is a 400), and so does the mock for every date up to the newest version it
/// knows; a later date is taken to be a version newer than the mock, so that a newer official
/// SDK is not refused on every request.
pub(crate) fn version(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get("anthropic-version") else {
        return Err(Refusal::invalid(
            "anthropic-version: header is required".into(),
        ));
    };
    let text = value.to_str().unwrap_or("");
    let newest = API_VERSIONS[API_VERSIONS.len() - 1];
    if API_VERSIONS.contains(&text) || (is_date(text) && text > newest) {
        Ok(())
    } else {
        Err(Refusal::invalid(format!(
            "anthropic-version: {text:?} is not a valid version"
        )))
    }
}

/// `YYYY-MM-DD` with a month and a day that can be (ISO dates compare as text).
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return false;
    }
    if !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// The body as a request, or a 400 naming the first field that is not right.
pub(crate) fn parse(body: serde_json::Value) -> Result<MessagesRequest, Refusal> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let mut path = dotted(e.path());
        let inner = e.into_inner().to_string();
        let message = match missing_field(&inner) {
            Some(field) => {
                path = join(&path, field);
                "Field required".to_string()
            }
            None => inner,
        };
        Refusal::invalid(join_message(&path, &message))
    })
}

/// The checks that need the whole request.
pub(crate) fn request(req: &MessagesRequest) -> Result<(), Refusal> {
    if req.messages.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    if req.max_tokens == 0 {
        return Err(invalid(
            "max_tokens",
            "Input should be greater than or equal to 1",
        ));
    }
    for (name, value) in [("temperature", req.temperature), ("top_p", req.top_p)] {
        if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
            return Err(invalid(name, "Input should be between 0 and 1"));
        }
    }
    stop_sequences(req.stop_sequences.as_deref().unwrap_or_default())?;
    contents(req)
}

fn stop_sequences(seqs: &[String]) -> Result<(), Refusal> {
    if seqs.len() > MAX_STOP_SEQUENCES {
        return Err(invalid(
            "stop_sequences",
            &format!("at most {MAX_STOP_SEQUENCES} stop sequences are accepted"),
        ));
    }
    match seqs.iter().position(|s| s.trim().is_empty()) {
        Some(i) => Err(invalid(
            &format!("stop_sequences.{i}"),
            "each stop sequence must contain non-whitespace",
        )),
        None => Ok(()),
    }
}

/// Every turn has content (but a final assistant one, which the model continues), and no text
/// block is empty.
fn contents(req: &MessagesRequest) -> Result<(), Refusal> {
    let last = req.messages.len() - 1;
    for (i, m) in req.messages.iter().enumerate() {
        if m.content.is_empty() && !(i == last && m.role == Role::Assistant) {
            return Err(invalid(
                &format!("messages.{i}"),
                "all messages must have non-empty content except for the optional final \
                 assistant message",
            ));
        }
        let Content::Blocks(blocks) = &m.content else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            if matches!(b, ContentBlockParam::Text { text } if text.is_empty()) {
                return Err(invalid(
                    &format!("messages.{i}.content.{j}.text"),
                    "text content blocks must be non-empty",
                ));
            }
        }
    }
    Ok(())
}

fn invalid(field: &str, message: &str) -> Refusal {
    Refusal::invalid(join_message(field, message))
}

/// `messages[0].content` as the API writes it: `messages.0.content`.
fn dotted(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        let part = match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { .. } | Segment::Unknown => continue,
        };
        out = join(&out, &part);
    }
    out
}

/// The field serde reports missing (its message is "missing field `name`").
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn join_message(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(body: serde_json::Value) -> String {
        match parse(body).and_then(|r| request(&r).map(|()| r)) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => {
                assert_eq!(
                    (e.status, e.kind),
                    (
                        400,
                        gauntlet_wire::anthropic::ErrorType::InvalidRequestError
                    )
                );
                e.message
            }
        }
    }

    fn body(extra: serde_json::Value) -> serde_json::Value {
        let mut b =
            json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    #[test]
    fn each_refusal_names_its_field() {
        let mut no_max = body(json!({}));
        no_max.as_object_mut().unwrap().remove("max_tokens");
        assert_eq!(refused(no_max), "max_tokens: Field required");
        assert_eq!(
            refused(body(json!({"messages": []}))),
            "messages: at least one message is required"
        );
        let role = refused(body(
            json!({"messages": [{"role": "system", "content": "x"}]}),
        ));
        assert!(
            role.starts_with("messages.0.role: unknown variant `system`"),
            "{role}"
        );
        let no_role = refused(body(json!({"messages": [{"content": "x"}]})));
        assert_eq!(no_role, "messages.0.role: Field required");
        let block = refused(body(
            json!({"messages": [{"role": "user", "content": [{"type": "video"}]}]}),
        ));
        assert!(
            block.starts_with("messages.0.content.0.type: unknown variant `video`"),
            "{block}"
        );
        assert_eq!(
            refused(body(json!({"max_tokens": 0}))),
            "max_tokens: Input should be greater than or equal to 1"
        );
        assert!(refused(body(json!({"max_tokens": -1}))).starts_with("max_tokens: "));
        assert!(refused(body(json!({"temperature": 1.5}))).starts_with("temperature: "));
        assert!(refused(body(json!({"top_p": -0.1}))).starts_with("top_p: "));
        assert_eq!(
            refused(body(json!({"stop_sequences": ["ok", " \n"]}))),
            "stop_sequences.1: each stop sequence must contain non-whitespace"
        );
        let many: Vec<String> = (0..=MAX_STOP_SEQUENCES).map(|i| i.to_string()).collect();
        assert!(refused(body(json!({"stop_sequences": many}))).starts_with("stop_sequences: "));
        assert_eq!(
            refused(body(
                json!({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]})
            )),
            "messages.0.content.0.text: text content blocks must be non-empty"
        );
        assert!(refused(body(json!({"model": 5}))).starts_with("model: invalid type"));
    }

    #[test]
    fn empty_content_only_in_a_final_assistant_turn() {
        let empty_user = body(json!({"messages": [
            {"role": "user", "content": ""}, {"role": "assistant", "content": "x"}]}));
        assert!(refused(empty_user).starts_with("messages.0: all messages must have non-empty"));
        let prefill = body(json!({"messages": [
            {"role": "user", "content": "x"}, {"role": "assistant", "content": []}]}));
        assert!(parse(prefill).and_then(|r| request(&r)).is_ok());
        let assistant_first = body(json!({"messages": [
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "x"}]}));
        assert!(parse(assistant_first).and_then(|r| request(&r)).is_ok());
    }

    #[test]
    fn the_version_header_is_required_and_known() {
        let mut h = HeaderMap::new();
        assert_eq!(
            version(&h).unwrap_err().message,
            "anthropic-version: header is required"
        );
        h.insert("anthropic-version", "2024-10-22".parse().unwrap());
        assert_eq!(
            version(&h).unwrap_err().message,
            "anthropic-version: \"2024-10-22\" is not a valid version"
        );
        for v in API_VERSIONS.into_iter().chain(["2027-01-05"]) {
            h.insert("anthropic-version", v.parse().unwrap());
            assert!(version(&h).is_ok(), "{v}");
        }
        for bad in [
            "2026-10-20",
            "2023-06-02",
            "2027-13-01",
            "2027-1-01",
            "latest",
            "",
        ] {
            h.insert("anthropic-version", bad.parse().unwrap());
            assert!(version(&h).is_err(), "{bad}");
        }
    }
}
