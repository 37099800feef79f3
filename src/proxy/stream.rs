//! A streamed answer passed through to the caller frame by frame as the adapter reads it (no
//! batching, no buffering of the whole), and ended properly however the stack's request ends.
//!
//! Only whole SSE events are sent on: a transport frame that ends mid-event waits for the rest
//! (a frame that ends on an event's end, the usual case, goes out as it came, uncopied). So when
//! the upstream cuts the stream off, the caller's stream ends with a whole error event in the
//! route's shape rather than with half an event — unless the upstream's own error event was the
//! last thing sent, which the caller then already has.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use gauntlet_client::{ChatResponse, ClientError, Outcome, RateLimitInfo, Route};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::routes_error::ProxyError;

/// The stack's request running in its own task (so a caller who leaves does not cancel the read
/// the cache wants).
pub type Running = JoinHandle<Result<ChatResponse, ClientError>>;

/// Whole events out of raw frames, noting whether the last was an error event.
#[derive(Debug, Default)]
pub struct Framer {
    pending: BytesMut,
    error_seen: bool,
    last_seq: u64,
}

impl Framer {
    /// The whole events `frame` completes (with what was pending), if any.
    pub fn push(&mut self, frame: Bytes) -> Option<Bytes> {
        let whole = if self.pending.is_empty() && ends_event(&frame) {
            frame
        } else {
            self.pending.extend_from_slice(&frame);
            let end = last_event_end(&self.pending)?;
            self.pending.split_to(end).freeze()
        };
        self.note(&whole);
        Some(whole)
    }

    /// Whatever is pending at a clean end of the stream (an upstream whose last event lacks
    /// its blank line).
    pub fn rest(&mut self) -> Option<Bytes> {
        (!self.pending.is_empty()).then(|| self.pending.split().freeze())
    }

    fn note(&mut self, events: &[u8]) {
        let text = String::from_utf8_lossy(events);
        for line in text.lines() {
            let error = line.starts_with("event: error")
                || line.starts_with("event: response.failed")
                || line.starts_with("data: {\"error\"");
            if line.starts_with("data:") || line.starts_with("event:") {
                self.error_seen = error || (self.error_seen && line.starts_with("data:"));
            }
            if let Some(at) = line.find("\"sequence_number\":") {
                let digits: String = line[at + 18..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                self.last_seq = digits.parse().unwrap_or(self.last_seq);
            }
        }
    }

    /// The event that ends a broken stream, in the route's shape; `None` when the upstream's own
    /// error event already did.
    pub fn error_event(&self, route: Route, error: &ProxyError) -> Option<Bytes> {
        if self.error_seen {
            return None;
        }
        let body = json!({"message": error.message, "type": error.kind, "param": error.param, "code": error.code});
        let event = match route {
            Route::Responses => format!(
                "event: error\ndata: {}\n\n",
                json!({"type": "error", "code": error.code.unwrap_or(error.kind), "message": error.message,
                       "param": null, "error": body, "sequence_number": self.last_seq + 1})
            ),
            _ => format!("data: {}\n\n", json!({ "error": body })),
        };
        Some(Bytes::from(event))
    }
}

fn ends_event(b: &[u8]) -> bool {
    b.ends_with(b"\n\n") || b.ends_with(b"\r\n\r\n")
}

fn last_event_end(b: &[u8]) -> Option<usize> {
    let lf = b.windows(2).rposition(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = b.windows(4).rposition(|w| w == b"\r\n\r\n").map(|i| i + 4);
    lf.max(crlf)
}

/// How the caller's stream ended, for the access log and metrics: the outcome name, and the
/// upstream's rate-limit headers when the stack's answer carried them.
pub type OnEnd = Box<dyn FnOnce(&'static str, Option<RateLimitInfo>) + Send>;

struct State {
    first: Option<Bytes>,
    rx: mpsc::Receiver<Bytes>,
    running: Option<Running>,
    result: Option<Result<ChatResponse, ClientError>>,
    framer: Framer,
    route: Route,
    on_end: Option<OnEnd>,
    hints: (std::time::Duration, std::time::Duration),
}

/// The caller's stream: `first` (already read), then each frame as it comes, then the end:
/// nothing more after a whole answer, the error event after a broken one.
pub fn pass_through(
    first: Bytes,
    rx: mpsc::Receiver<Bytes>,
    running: Running,
    route: Route,
    hints: (std::time::Duration, std::time::Duration),
    on_end: OnEnd,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let state = State {
        first: Some(first),
        rx,
        running: Some(running),
        result: None,
        framer: Framer::default(),
        route,
        on_end: Some(on_end),
        hints,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        let out = next(&mut st).await?;
        Some((Ok(out), st))
    })
}

async fn next(st: &mut State) -> Option<Bytes> {
    if let Some(f) = st.first.take() {
        if let Some(out) = st.framer.push(f) {
            return Some(out);
        }
    }
    loop {
        if let Some(running) = st.running.as_mut() {
            tokio::select! {
                biased;
                Some(f) = st.rx.recv() => {
                    if let Some(out) = st.framer.push(f) {
                        return Some(out);
                    }
                }
                r = running => {
                    st.running = None;
                    st.result = Some(r.unwrap_or_else(|e| Err(ClientError::Reset(format!("proxy task: {e}")))));
                }
            }
            continue;
        }
        // The request is over: its frames are all in the channel already.
        while let Ok(f) = st.rx.try_recv() {
            if let Some(out) = st.framer.push(f) {
                return Some(out);
            }
        }
        let on_end = st.on_end.take()?;
        return match st.result.take() {
            Some(Err(e)) => {
                let err = ProxyError::from_client(&e, None, st.hints.0, st.hints.1);
                on_end(e.kind(), None);
                st.framer.error_event(st.route, &err)
            }
            Some(Ok(resp)) => {
                on_end(resp.outcome.as_str(), resp.rate_limit);
                st.framer.rest()
            }
            None => {
                on_end(Outcome::Upstream.as_str(), None);
                st.framer.rest()
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_events_go_out_and_an_upstream_error_event_is_not_doubled() {
        let mut f = Framer::default();
        assert_eq!(
            f.push(Bytes::from_static(b"data: 1\n\n")).unwrap(),
            "data: 1\n\n"
        );
        assert_eq!(
            f.push(Bytes::from_static(b"data: 2\n\ndata: {\"id\""))
                .unwrap(),
            "data: 2\n\n"
        );
        assert_eq!(f.push(Bytes::from_static(b":1}")), None);
        let err = ProxyError::own(502, "cut".into(), "upstream_error", None, "stream_broken");
        assert!(f
            .error_event(Route::Chat, &err)
            .unwrap()
            .starts_with(b"data: {\"error\""));
        f.push(Bytes::from_static(
            b"\n\ndata: {\"error\":{\"message\":\"x\"}}\n\n",
        ));
        assert_eq!(f.error_event(Route::Chat, &err), None);
        let mut f = Framer::default();
        f.push(Bytes::from_static(
            b"event: response.output_text.delta\ndata: {\"sequence_number\":41}\n\n",
        ));
        let e = f.error_event(Route::Responses, &err).unwrap();
        assert!(std::str::from_utf8(&e)
            .unwrap()
            .contains("\"sequence_number\":42"));
    }
}
