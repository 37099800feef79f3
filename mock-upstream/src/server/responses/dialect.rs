//! How a Responses API answer is written: the `response` object, and the typed events of its
//! stream in the API's order, each with its `sequence_number`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header;
use axum::response::{IntoResponse, Response as HttpResponse};
use bytes::Bytes;

use super::output::{pieces, Output};
use crate::server::dialect::{sse_event, Dialect, StreamParts};
use crate::server::errors::ApiError;
use crate::text::Reply;
use gauntlet_wire::openai::responses::{
    FunctionCall, IncompleteDetails, IncompleteReason, ItemStatus, OutputContent, OutputItem,
    OutputMessage, Response, ResponseError, ResponseStatus, ResponseStreamEvent, ResponseUsage,
    StreamError,
};

/// Events of a stream before its content: `response.created`, `response.in_progress`,
/// `response.output_item.added` and, for a message, `response.content_part.added`.
const HEAD_EVENTS: u64 = 4;

/// One request's answer in the Responses API's shape.
#[derive(Debug)]
pub(crate) struct ResponsesDialect {
    /// The response as `response.created` shows it: the request's settings echoed, status
    /// `in_progress`, no output, no usage. Every later shape starts from it.
    template: Response,
    /// What the output is: text, JSON, or a function call.
    output: Output,
    /// `msg_…` or `fc_…`: the id of the one output item.
    item_id: String,
    /// `call_…`, for a function call.
    call_id: String,
    /// Input tokens, earlier turns included, as `usage` reports them.
    input_tokens: u32,
    /// The `sequence_number` the first event after the content carries, set by
    /// [`Dialect::stream`]: an error that strikes part-way is numbered from it, so it is above
    /// every number already sent however far the stream got.
    after_content: AtomicU64,
}

impl ResponsesDialect {
    /// A dialect answering with `output` under the settings `template` echoes.
    pub(crate) fn new(
        template: Response,
        output: Output,
        item_id: String,
        call_id: String,
        input_tokens: u32,
    ) -> Self {
        Self {
            template,
            output,
            item_id,
            call_id,
            input_tokens,
            after_content: AtomicU64::new(HEAD_EVENTS),
        }
    }

    fn usage(&self, output_tokens: u32) -> ResponseUsage {
        ResponseUsage {
            input_tokens: self.input_tokens,
            output_tokens,
            total_tokens: self.input_tokens.saturating_add(output_tokens),
            ..Default::default()
        }
    }

    /// The one output item, whole (`status` completed or incomplete) or as first announced.
    fn item(&self, text: &str, status: ItemStatus) -> OutputItem {
        let whole = status != ItemStatus::InProgress;
        match &self.output {
            Output::FunctionCall { name, .. } => OutputItem::FunctionCall(FunctionCall {
                id: Some(self.item_id.clone()),
                call_id: self.call_id.clone(),
                name: name.clone(),
                arguments: if whole {
                    text.to_string()
                } else {
                    String::new()
                },
                status: Some(status),
            }),
            _ => OutputItem::Message(OutputMessage {
                id: self.item_id.clone(),
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
    /// `reply` is the item's content (see [`Output::content`]).
    fn finished(&self, reply: &Reply) -> Response {
        let cut = reply.finish_reason == "length";
        let mut r = self.template.clone();
        r.status = if cut {
            ResponseStatus::Incomplete
        } else {
            ResponseStatus::Completed
        };
        r.incomplete_details = cut.then_some(IncompleteDetails {
            reason: Some(IncompleteReason::MaxOutputTokens),
        });
        let status = if cut {
            ItemStatus::Incomplete
        } else {
            ItemStatus::Completed
        };
        r.output = vec![self.item(&reply.text, status)];
        r.usage = Some(self.usage(reply.tokens));
        r
    }

    /// The item's content for the engine's reply: the reply itself, or the JSON document or
    /// arguments the output holds, cut to `max_output_tokens`.
    fn content<'a>(&self, reply: &'a Reply) -> std::borrow::Cow<'a, Reply> {
        self.output.content(reply, self.template.max_output_tokens)
    }

    /// The turn the output adds to the conversation, for `previous_response_id`: the role and
    /// text an input item of it would have.
    pub(crate) fn turn(&self, reply: &Reply) -> (&'static str, String) {
        let content = self.content(reply);
        match &self.output {
            Output::FunctionCall { name, .. } => ("assistant", format!("{name}({})", content.text)),
            _ => ("assistant", content.text.clone()),
        }
    }

    /// The content events of one piece (a text delta or an arguments delta).
    fn delta(&self, piece: &str, seq: u64) -> ResponseStreamEvent {
        match self.output {
            Output::FunctionCall { .. } => ResponseStreamEvent::FunctionCallArgumentsDelta {
                item_id: self.item_id.clone(),
                output_index: 0,
                delta: piece.to_string(),
                sequence_number: seq,
            },
            _ => ResponseStreamEvent::OutputTextDelta {
                item_id: self.item_id.clone(),
                output_index: 0,
                content_index: 0,
                delta: piece.to_string(),
                logprobs: Vec::new(),
                sequence_number: seq,
            },
        }
    }

    /// The events that close the content: `…text.done` and `content_part.done` for a message,
    /// `…arguments.done` for a function call.
    fn content_done(&self, text: &str, seq: &mut u64) -> Vec<ResponseStreamEvent> {
        let mut next = || {
            *seq += 1;
            *seq - 1
        };
        match &self.output {
            Output::FunctionCall { name, .. } => {
                vec![ResponseStreamEvent::FunctionCallArgumentsDone {
                    item_id: self.item_id.clone(),
                    output_index: 0,
                    name: name.clone(),
                    arguments: text.to_string(),
                    sequence_number: next(),
                }]
            }
            _ => vec![
                ResponseStreamEvent::OutputTextDone {
                    item_id: self.item_id.clone(),
                    output_index: 0,
                    content_index: 0,
                    text: text.to_string(),
                    logprobs: Vec::new(),
                    sequence_number: next(),
                },
                ResponseStreamEvent::ContentPartDone {
                    item_id: self.item_id.clone(),
                    output_index: 0,
                    content_index: 0,
                    part: OutputContent::text(text),
                    sequence_number: next(),
                },
            ],
        }
    }

    /// `response.created`, `response.in_progress`, `response.output_item.added` and, for a
    /// message, `response.content_part.added`.
    fn head(&self) -> Vec<ResponseStreamEvent> {
        let announced = || Box::new(self.template.clone());
        let mut head = vec![
            ResponseStreamEvent::Created {
                response: announced(),
                sequence_number: 0,
            },
            ResponseStreamEvent::InProgress {
                response: announced(),
                sequence_number: 1,
            },
            ResponseStreamEvent::OutputItemAdded {
                output_index: 0,
                item: self.item("", ItemStatus::InProgress),
                sequence_number: 2,
            },
        ];
        if !self.output.is_call() {
            head.push(ResponseStreamEvent::ContentPartAdded {
                item_id: self.item_id.clone(),
                output_index: 0,
                content_index: 0,
                part: OutputContent::text(""),
                sequence_number: 3,
            });
        }
        head
    }
}

/// One typed event framed as SSE: `event: <type>` then its JSON.
fn frame(event: &ResponseStreamEvent) -> Bytes {
    sse_event(event.kind(), event)
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
        serde_json::to_vec(&self.finished(&self.content(reply))).unwrap_or_default()
    }

    /// The head events, one delta per token, then the events that close the content, the
    /// item, and the response (`response.completed`, or `response.incomplete` when cut).
    fn stream(&self, reply: &Reply) -> StreamParts {
        let reply = &*self.content(reply);
        let head: Vec<Bytes> = self.head().iter().map(frame).collect();
        let mut seq = head.len() as u64;
        let tokens: Vec<Bytes> = pieces(&reply.text)
            .map(|piece| {
                seq += 1;
                frame(&self.delta(piece, seq - 1))
            })
            .collect();
        self.after_content.store(seq, Ordering::Relaxed);
        let finished = self.finished(reply);
        let mut tail = self.content_done(&reply.text, &mut seq);
        let item = finished.output.first().cloned();
        if let Some(item) = item {
            tail.push(ResponseStreamEvent::OutputItemDone {
                output_index: 0,
                item,
                sequence_number: seq,
            });
            seq += 1;
        }
        tail.push(if finished.status == ResponseStatus::Incomplete {
            ResponseStreamEvent::Incomplete {
                response: Box::new(finished),
                sequence_number: seq,
            }
        } else {
            ResponseStreamEvent::Completed {
                response: Box::new(finished),
                sequence_number: seq,
            }
        });
        StreamParts {
            head,
            tokens,
            tail: tail.iter().map(frame).collect(),
        }
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
        let event = ResponseStreamEvent::Error(StreamError {
            code: Some(
                error
                    .body
                    .code
                    .clone()
                    .unwrap_or_else(|| error.body.kind.clone()),
            ),
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
