//! A caller's own request carried through the stack, for a proxy in front of the upstream.
//!
//! [`ChatRequest`](crate::ChatRequest) models the fields the layers read (model, messages,
//! limits, tools); a proxy's callers send more (`top_p`, `logprobs`, `user`, `metadata`, ...).
//! A request with a [`Passthrough`] keeps the caller's JSON body: the adapter sends that body
//! with only what the stack changed put in (the model, and the messages when the context layer
//! changed them), so nothing the stack does not model is dropped on the way. A streamed answer's
//! raw SSE frames go to the [`Passthrough::sink`] as they arrive, while the adapter still reads
//! the whole answer for the cache and the caller's trace.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use gauntlet_wire::openai::ChatMessage;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::request::Route;

/// The caller's body, the messages the stack was given from it, where stream frames go, and
/// the upstream's last whole answer.
#[derive(Debug)]
pub struct Passthrough {
    body: Map<String, Value>,
    messages: Vec<ChatMessage>,
    sink: Option<mpsc::Sender<Bytes>>,
    forwarded: AtomicBool,
    answer: Mutex<Option<UpstreamAnswer>>,
    key: u64,
    /// The caller's `model`, to tell whether the stack changed it.
    model: Option<String>,
    /// The caller's answer-length limit, to tell whether the stack changed it (the answer cap).
    limit: Option<u64>,
    /// The body exactly as the caller sent it, when the proxy vouched that it says what `body`
    /// says (see [`Passthrough::with_raw`]).
    raw: Option<Bytes>,
}

/// Body fields that say how an answer is delivered or who asked for it, not what it says: the
/// only ones [`Passthrough::key`] leaves out (a plain and a streamed ask share an answer).
pub const NOT_KEYED: [&str; 3] = ["stream", "stream_options", "user"];

/// A non-streamed answer of the upstream as it came (a success or an error), so a proxy can
/// hand the caller the provider's own body rather than one rebuilt from the stack's reduced
/// response.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body, as read (bounded by `adapter.max_response_bytes`, errors by 64 KiB).
    pub body: Bytes,
}

impl Passthrough {
    /// `body` is the caller's JSON object and `messages` what the stack's request was given from
    /// it (so a change by the context layer can be told); frames of a streamed answer go to
    /// `sink`.
    pub fn new(
        body: Map<String, Value>,
        messages: Vec<ChatMessage>,
        sink: Option<mpsc::Sender<Bytes>>,
    ) -> Self {
        let key = body_key(&body);
        let model = body.get("model").and_then(Value::as_str).map(str::to_owned);
        let limit = LIMIT_KEYS
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_u64));
        Self {
            body,
            messages,
            sink,
            forwarded: AtomicBool::new(false),
            answer: Mutex::new(None),
            key,
            model,
            limit,
            raw: None,
        }
    }

    /// Keeps the caller's body as it came (`raw`, which must parse to exactly the `body` given to
    /// [`Passthrough::new`]: no duplicate key, which a parser reads one way and the upstream
    /// perhaps another), so that a request the stack did not change goes to the upstream as those
    /// bytes instead of being serialised again: that re-serialisation was the largest single cost
    /// of a request through the proxy.
    pub fn with_raw(mut self, raw: Bytes) -> Self {
        self.raw = Some(raw);
        self
    }

    /// The caller's bytes, when sending them says what [`Passthrough::outgoing`] would: the stack
    /// kept the caller's model, messages and answer-length limit (the only fields `outgoing`
    /// takes from the stack). `None` when the body must be built (a layer changed one of them,
    /// or no bytes were kept).
    pub fn unchanged(
        &self,
        model: &str,
        messages: &[ChatMessage],
        limit: Option<u32>,
    ) -> Option<Bytes> {
        let raw = self.raw.as_ref()?;
        (self.model.as_deref() == Some(model)
            && messages == self.messages.as_slice()
            && !self.limit_changed(limit))
        .then(|| raw.clone())
    }

    /// Whether the stack's limit differs from the caller's (the answer cap lowered it).
    fn limit_changed(&self, limit: Option<u32>) -> bool {
        self.limit != limit.map(u64::from)
    }

    /// A stable hash of the caller's body but [`NOT_KEYED`], for the cache key: the stack
    /// models few fields (model, messages, limits, temperature), and two bodies that differ in
    /// any other (`tools`, `top_p`, `n`, an image part of a message, ...) may have different
    /// answers, so they must not share one.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The body to send: the caller's, with `model` and (when the stack changed them) the
    /// route's message fields and the answer-length limit taken from `generated`, the body the
    /// adapter would have sent. A changed limit replaces every limit key the caller used, so
    /// the body never holds two limits that disagree.
    pub fn outgoing(
        &self,
        route: Route,
        messages: &[ChatMessage],
        limit: Option<u32>,
        generated: Value,
    ) -> Value {
        let mut out = self.body.clone();
        let Value::Object(mut generated) = generated else {
            return Value::Object(out);
        };
        let mut keys = vec!["model"];
        if messages != self.messages.as_slice() {
            keys.extend_from_slice(message_keys(route));
        }
        if self.limit_changed(limit) {
            keys.extend_from_slice(&LIMIT_KEYS);
        }
        for key in keys {
            match generated.remove(key) {
                Some(v) => out.insert(key.to_string(), v),
                None => out.remove(key),
            };
        }
        Value::Object(out)
    }

    /// How many inputs an embeddings body holds: a proxy gives the stack one message per input.
    pub fn embedding_inputs(&self) -> usize {
        self.messages.len()
    }

    /// Whether a streamed answer's frames are wanted.
    pub fn streams(&self) -> bool {
        self.sink.is_some()
    }

    /// Sends one raw frame to the sink (waiting while it is full, so a slow caller slows the
    /// read rather than growing a buffer). A caller that went away is not an upstream failure:
    /// the answer is still read for the cache.
    pub async fn forward(&self, frame: Bytes) {
        if let Some(sink) = &self.sink {
            self.forwarded.store(true, Ordering::Relaxed);
            let _ = sink.send(frame).await;
        }
    }

    /// Whether a frame has gone to the caller: from then on a failure cannot be retried
    /// invisibly, since the caller already holds the first frames.
    pub fn forwarded(&self) -> bool {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// Keeps the upstream's last non-streamed answer (each attempt replaces the one before).
    pub fn keep_answer(&self, status: u16, body: Bytes) {
        if let Ok(mut slot) = self.answer.lock() {
            *slot = Some(UpstreamAnswer { status, body });
        }
    }

    /// The upstream's last non-streamed answer, if an attempt read one.
    pub fn answer(&self) -> Option<UpstreamAnswer> {
        self.answer.lock().ok().and_then(|a| a.clone())
    }
}

/// The hash of [`Passthrough::key`]: the body's fields in name order, each name and value.
fn body_key(body: &Map<String, Value>) -> u64 {
    let mut fields: Vec<(&String, &Value)> = body
        .iter()
        .filter(|(k, _)| !NOT_KEYED.contains(&k.as_str()))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    // A `Value` always serialises.
    let bytes = serde_json::to_vec(&fields).unwrap_or_default();
    gauntlet_wire::hash::stable_hash(&bytes)
}

/// The body fields an answer-length limit is written in, by any route; the first present is
/// the caller's limit (`max_completion_tokens` before the older `max_tokens`, as the API reads).
const LIMIT_KEYS: [&str; 3] = ["max_completion_tokens", "max_tokens", "max_output_tokens"];

/// The body fields a route's messages are written in.
fn message_keys(route: Route) -> &'static [&'static str] {
    match route {
        Route::Chat => &["messages"],
        Route::Responses => &["input", "instructions"],
        Route::Embeddings => &["input"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn unmodelled_fields_survive_and_only_what_changed_is_replaced() {
        let caller = json!({"model": "a", "messages": [{"role": "user", "content": "q", "name": "n"}],
                            "top_p": 0.5, "metadata": {"k": "v"}});
        let parsed = vec![ChatMessage::new("user", "q")];
        let p = Passthrough::new(object(caller.clone()), parsed.clone(), None);
        let generated = json!({"model": "b", "messages": [{"role": "user", "content": "q"}]});
        let out = p.outgoing(Route::Chat, &parsed, None, generated.clone());
        assert_eq!(out["model"], "b");
        assert_eq!(out["top_p"], 0.5);
        assert_eq!(out["metadata"]["k"], "v");
        assert_eq!(
            out["messages"], caller["messages"],
            "unchanged messages stay as sent"
        );

        let trimmed = vec![
            ChatMessage::new("system", "s"),
            ChatMessage::new("user", "q"),
        ];
        let generated = json!({"model": "a", "input": [1], "instructions": null});
        let out = p.outgoing(Route::Responses, &trimmed, None, generated);
        assert_eq!(out["input"], json!([1]));
        assert!(out["instructions"].is_null());
        assert_eq!(out["top_p"], 0.5);
    }

    #[test]
    fn a_limit_the_stack_lowered_reaches_the_upstream_and_replaces_the_callers() {
        let raw = Bytes::from_static(
            br#"{"model":"a","messages":[{"role":"user","content":"q"}],"max_completion_tokens":500}"#,
        );
        let body: Value = serde_json::from_slice(&raw).unwrap();
        let parsed = vec![ChatMessage::new("user", "q")];
        let p = Passthrough::new(object(body), parsed.clone(), None).with_raw(raw.clone());
        assert_eq!(p.unchanged("a", &parsed, Some(500)), Some(raw));
        assert_eq!(
            p.unchanged("a", &parsed, Some(100)),
            None,
            "the cap lowered it"
        );
        let generated = json!({"model": "a", "messages": [], "max_tokens": 100});
        let out = p.outgoing(Route::Chat, &parsed, Some(100), generated.clone());
        assert_eq!(out["max_tokens"], 100);
        assert!(
            out.get("max_completion_tokens").is_none(),
            "two limits that disagree: {out}"
        );
        let kept = p.outgoing(Route::Chat, &parsed, Some(500), generated);
        assert_eq!(kept["max_completion_tokens"], 500);
        assert!(kept.get("max_tokens").is_none());
    }

    #[test]
    fn the_key_covers_every_field_but_delivery_and_identity() {
        let key = |v: Value| Passthrough::new(object(v), Vec::new(), None).key();
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "q"}]});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            key(b)
        };
        assert_eq!(key(base.clone()), key(base.clone()));
        for (k, v) in [
            ("top_p", json!(0.5)),
            (
                "tools",
                json!([{"type": "function", "function": {"name": "f"}}]),
            ),
            ("n", json!(2)),
            ("seed", json!(1)),
        ] {
            assert_ne!(with(k, v), key(base.clone()), "{k}");
        }
        for k in NOT_KEYED {
            assert_eq!(with(k, json!(true)), key(base.clone()), "{k}");
        }
    }

    #[test]
    fn the_callers_bytes_go_only_while_model_and_messages_are_as_sent() {
        let raw = Bytes::from_static(
            br#"{ "model" : "a", "messages": [{"role":"user","content":"q"}], "top_p": 0.5 }"#,
        );
        let body: Value = serde_json::from_slice(&raw).unwrap();
        let parsed = vec![ChatMessage::new("user", "q")];
        let p = Passthrough::new(object(body.clone()), parsed.clone(), None);
        assert_eq!(p.unchanged("a", &parsed, None), None, "no bytes were kept");
        let p = p.with_raw(raw.clone());
        assert_eq!(p.unchanged("a", &parsed, None), Some(raw));
        assert_eq!(
            p.unchanged("b", &parsed, None),
            None,
            "the model chain moved on"
        );
        let trimmed = vec![ChatMessage::new("user", "r")];
        assert_eq!(
            p.unchanged("a", &trimmed, None),
            None,
            "the context layer changed them"
        );
    }

    #[tokio::test]
    async fn frames_go_to_the_sink_and_mark_the_request_forwarded() {
        let (tx, mut rx) = mpsc::channel(4);
        let p = Passthrough::new(Map::new(), Vec::new(), Some(tx));
        assert!(!p.forwarded());
        p.forward(Bytes::from_static(b"data: 1\n\n")).await;
        assert!(p.forwarded());
        assert_eq!(rx.recv().await.unwrap(), "data: 1\n\n");
        drop(rx);
        p.forward(Bytes::from_static(b"x")).await;
        p.keep_answer(200, Bytes::from_static(b"{}"));
        assert_eq!(p.answer().unwrap().status, 200);
    }
}
