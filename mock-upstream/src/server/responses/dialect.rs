//! How a Responses API answer is written: the `response` object, and the typed events of its
//! stream in the API's order, each with its `sequence_number`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header;
use axum::response::{IntoResponse, Response as HttpResponse};
use bytes::Bytes;

use super::output::{Output, Produced};
use crate::content::pieces;
use crate::server::dialect::{sse_event, Dialect, StreamParts};
use crate::server::errors::ApiError;
use crate::text::Reply;
use gauntlet_wire::openai::responses::{
    FunctionCall, IncompleteDetails, IncompleteReason, ItemStatus, OutputContent, OutputItem,
    OutputMessage, Response, ResponseError, ResponseStatus, ResponseStreamEvent, ResponseUsage,
    StreamError,
};
use gauntlet_wire::tokens::CHARS_PER_TOKEN;

/// One request's answer in the Responses API's shape.
#[derive(Debug)]
pub(crate) struct ResponsesDialect {
    /// The response as `response.created` shows it: the request's settings echoed, status
    /// `in_progress`, no output, no usage. Every later shape starts from it.
    template: Response,
    /// What the output is: text, JSON, or function calls.
    output: Output,
    /// `msg_…`: the id of a message item.
    message_id: String,
    /// Input tokens, earlier turns included, as `usage` reports them.
    input_tokens: u32,
    /// The `sequence_number` of the first event after the last delta, set by
    /// [`Dialect::stream`]: an error that strikes part-way is numbered from it, so it is above
    /// every number already sent however far the stream got.
    after_content: AtomicU64,
}

/// One event of a stream, and whether it is a delta (what the stream's pacing spaces out).
type Event = (bool, ResponseStreamEvent);

impl ResponsesDialect {
    /// A dialect answering with `output` under the settings `template` echoes.
    pub(crate) fn new(
        template: Response,
        output: Output,
        message_id: String,
        input_tokens: u32,
    ) -> Self {
        Self {
            template,
            output,
            message_id,
            input_tokens,
            after_content: AtomicU64::new(0),
        }
    }

    fn produce<'a>(&'a self, reply: &'a Reply) -> Produced<'a> {
        self.output.produce(reply, self.template.max_output_tokens)
    }

    /// The id of output item `i`: the message's, or `fc_…` from the call's id.
    fn item_id(&self, i: usize) -> String {
        match &self.output {
            Output::Calls(calls) => calls.get(i).map_or_else(String::new, |c| {
                format!("fc_{}", c.id.strip_prefix("call_").unwrap_or(&c.id))
            }),
            _ => self.message_id.clone(),
        }
    }

    /// Output item `i` with `text`, as first announced (`in_progress`, empty) or whole.
    fn item(&self, i: usize, text: &str, status: ItemStatus) -> OutputItem {
        let whole = status != ItemStatus::InProgress;
        match &self.output {
            Output::Calls(calls) => {
                let call = calls.get(i);
                OutputItem::FunctionCall(FunctionCall {
                    id: Some(self.item_id(i)),
                    call_id: call.map_or_else(String::new, |c| c.id.clone()),
                    name: call.map_or_else(String::new, |c| c.name.clone()),
                    arguments: if whole {
                        text.to_string()
                    } else {
                        String::new()
                    },
                    status: Some(status),
                })
            }
            _ => OutputItem::Message(OutputMessage {
                id: self.item_id(i),
                status,
                role: "assistant".into(),
                content: if whole {
                    vec![OutputContent::text(text)]
                } else {
                    Vec::new()
                },
            }),
        }
    }

    /// The finished response: output, usage, and `incomplete` when the token limit cut it.
    fn finished(&self, produced: &Produced<'_>) -> Response {
        let mut r = self.template.clone();
        let (status, item_status) = if produced.cut {
            (ResponseStatus::Incomplete, ItemStatus::Incomplete)
        } else {
            (ResponseStatus::Completed, ItemStatus::Completed)
        };
        r.status = status;
        r.incomplete_details = produced.cut.then_some(IncompleteDetails {
            reason: Some(IncompleteReason::MaxOutputTokens),
        });
        r.output = (produced.texts.iter().enumerate())
            .map(|(i, t)| self.item(i, t, item_status))
            .collect();
        r.usage = Some(ResponseUsage {
            input_tokens: self.input_tokens,
            output_tokens: produced.tokens,
            total_tokens: self.input_tokens.saturating_add(produced.tokens),
            ..Default::default()
        });
        r
    }

    /// The turns the output adds to the conversation, for `previous_response_id`: the role
    /// and text each output item would have as an input item.
    pub(crate) fn turns(&self, reply: &Reply) -> Vec<(&'static str, String)> {
        let produced = self.produce(reply);
        match &self.output {
            Output::Calls(calls) => (calls.iter().zip(&produced.texts))
                .map(|(c, args)| ("assistant", format!("{}({args})", c.name)))
                .collect(),
            _ => (produced.texts.iter())
                .map(|t| ("assistant", t.to_string()))
                .collect(),
        }
    }

    /// Every event of the stream in order, numbered from 0.
    fn events(&self, produced: &Produced<'_>) -> Vec<Event> {
        let finished = self.finished(produced);
        let announced = || Box::new(self.template.clone());
        let mut events: Vec<Event> = vec![
            (
                false,
                ResponseStreamEvent::Created {
                    response: announced(),
                    sequence_number: 0,
                },
            ),
            (
                false,
                ResponseStreamEvent::InProgress {
                    response: announced(),
                    sequence_number: 0,
                },
            ),
        ];
        for (i, (text, item)) in produced.texts.iter().zip(&finished.output).enumerate() {
            self.item_events(i, text, item.clone(), &mut events);
        }
        let done = Box::new(finished);
        events.push((
            false,
            if done.status == ResponseStatus::Incomplete {
                ResponseStreamEvent::Incomplete {
                    response: done,
                    sequence_number: 0,
                }
            } else {
                ResponseStreamEvent::Completed {
                    response: done,
                    sequence_number: 0,
                }
            },
        ));
        for (n, (_, e)) in events.iter_mut().enumerate() {
            set_sequence(e, n as u64);
        }
        events
    }

    /// Output item `i`'s events: added, (for a message) its part added, one delta per token,
    /// the done events of its content, and the item done.
    fn item_events(&self, i: usize, text: &str, whole: OutputItem, events: &mut Vec<Event>) {
        let (item_id, output_index) = (self.item_id(i), i as u32);
        let added = self.item(i, "", ItemStatus::InProgress);
        events.push((
            false,
            ResponseStreamEvent::OutputItemAdded {
                output_index,
                item: added,
                sequence_number: 0,
            },
        ));
        let message = !self.output.is_calls();
        if message {
            events.push((
                false,
                ResponseStreamEvent::ContentPartAdded {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    part: OutputContent::text(""),
                    sequence_number: 0,
                },
            ));
        }
        for piece in pieces(text, CHARS_PER_TOKEN) {
            let delta = piece.to_string();
            events.push((
                true,
                if message {
                    ResponseStreamEvent::OutputTextDelta {
                        item_id: item_id.clone(),
                        output_index,
                        content_index: 0,
                        delta,
                        logprobs: Vec::new(),
                        sequence_number: 0,
                    }
                } else {
                    ResponseStreamEvent::FunctionCallArgumentsDelta {
                        item_id: item_id.clone(),
                        output_index,
                        delta,
                        sequence_number: 0,
                    }
                },
            ));
        }
        if message {
            events.push((
                false,
                ResponseStreamEvent::OutputTextDone {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    text: text.to_string(),
                    logprobs: Vec::new(),
                    sequence_number: 0,
                },
            ));
            events.push((
                false,
                ResponseStreamEvent::ContentPartDone {
                    item_id,
                    output_index,
                    content_index: 0,
                    part: OutputContent::text(text),
                    sequence_number: 0,
                },
            ));
        } else {
            let name = match &whole {
                OutputItem::FunctionCall(c) => c.name.clone(),
                OutputItem::Message(_) => String::new(),
            };
            events.push((
                false,
                ResponseStreamEvent::FunctionCallArgumentsDone {
                    item_id,
                    output_index,
                    name,
                    arguments: text.to_string(),
                    sequence_number: 0,
                },
            ));
        }
        events.push((
            false,
            ResponseStreamEvent::OutputItemDone {
                output_index,
                item: whole,
                sequence_number: 0,
            },
        ));
    }
}

/// Numbers an event.
fn set_sequence(event: &mut ResponseStreamEvent, n: u64) {
    use ResponseStreamEvent as E;
    match event {
        E::Created {
            sequence_number, ..
        }
        | E::InProgress {
            sequence_number, ..
        }
        | E::Completed {
            sequence_number, ..
        }
        | E::Incomplete {
            sequence_number, ..
        }
        | E::Failed {
            sequence_number, ..
        }
        | E::OutputItemAdded {
            sequence_number, ..
        }
        | E::OutputItemDone {
            sequence_number, ..
        }
        | E::ContentPartAdded {
            sequence_number, ..
        }
        | E::ContentPartDone {
            sequence_number, ..
        }
        | E::OutputTextDelta {
            sequence_number, ..
        }
        | E::OutputTextDone {
            sequence_number, ..
        }
        | E::FunctionCallArgumentsDelta {
            sequence_number, ..
        }
        | E::FunctionCallArgumentsDone {
            sequence_number, ..
        } => *sequence_number = n,
        E::Error(e) => e.sequence_number = n,
    }
}

/// One typed event framed as SSE: `event: <type>` then its JSON.
fn frame(event: &ResponseStreamEvent) -> Bytes {
    sse_event(event.kind(), event)
}

/// Splits a stream's events for the pacing: `head` up to the first delta, each delta as one
/// token piece with the events since the previous delta before it (an item closing and the
/// next opening), and `tail` after the last delta. Returns the parts and the number of the
/// first event of the tail.
fn split(events: Vec<Event>) -> (StreamParts, u64) {
    let last_delta = events.iter().rposition(|(d, _)| *d);
    let mut parts = StreamParts::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut seen_delta = false;
    for (n, (is_delta, e)) in events.iter().enumerate() {
        let framed = frame(e);
        if last_delta.is_some_and(|l| n > l) {
            parts.tail.push(framed);
        } else if *is_delta {
            pending.extend_from_slice(&framed);
            parts.tokens.push(Bytes::from(std::mem::take(&mut pending)));
            seen_delta = true;
        } else if seen_delta {
            pending.extend_from_slice(&framed);
        } else if last_delta.is_some() {
            parts.head.push(framed);
        } else {
            parts.tail.push(framed);
        }
    }
    let tail_start = last_delta.map_or(0, |l| l as u64 + 1);
    (parts, tail_start)
}

/// The code a failed response carries: one of the spec's `ResponseError` codes.
fn failure_code(error: &ApiError) -> &'static str {
    if error.status.as_u16() == 429 {
        "rate_limit_exceeded"
    } else {
        "server_error"
    }
}

impl Dialect for ResponsesDialect {
    fn answer(&self, reply: &Reply) -> Vec<u8> {
        serde_json::to_vec(&self.finished(&self.produce(reply))).unwrap_or_default()
    }

    /// `response.created`, `response.in_progress`, then per output item its added events, one
    /// delta per token and its done events, then `response.completed` (or
    /// `response.incomplete` when cut).
    fn stream(&self, reply: &Reply) -> StreamParts {
        let (parts, tail_start) = split(self.events(&self.produce(reply)));
        self.after_content.store(tail_start, Ordering::Relaxed);
        parts
    }

    /// `response.failed` (the terminal event a stream's reader waits for, with the response's
    /// `error`), then an `error` event: the official SDKs raise on an event whose data has an
    /// `error` object (openai-node's `Stream`, openai-python's `Stream`), not on
    /// `response.failed`, so both are sent.
    fn stream_error(&self, error: &ApiError) -> Bytes {
        let seq = self.after_content.load(Ordering::Relaxed);
        let mut failed = self.template.clone();
        failed.status = ResponseStatus::Failed;
        failed.error = Some(ResponseError {
            code: failure_code(error).into(),
            message: error.body.message.clone(),
        });
        let failed = ResponseStreamEvent::Failed {
            response: Box::new(failed),
            sequence_number: seq,
        };
        let code = error
            .body
            .code
            .clone()
            .unwrap_or_else(|| error.body.kind.clone());
        let event = ResponseStreamEvent::Error(StreamError {
            code: Some(code),
            message: error.body.message.clone(),
            param: error.body.param.clone(),
            error: Some(error.body.clone()),
            sequence_number: seq + 1,
        });
        let mut out = frame(&failed).to_vec();
        out.extend_from_slice(&frame(&event));
        Bytes::from(out)
    }

    fn malformed(&self, stream: bool) -> HttpResponse {
        let (content_type, body): (&str, &'static [u8]) = if stream {
            (
                "text/event-stream",
                b"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"unterminated\n\n",
            )
        } else {
            (
                "application/json",
                b"{\"id\":\"resp_broken\",\"object\":\"unterminated",
            )
        };
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}

#[cfg(test)]
mod tests;
