//! The typed events of a streamed response.

use serde::{Deserialize, Serialize};

use super::response::{OutputContent, OutputItem, Response};

/// One event of a streamed response (`event: <type>` / `data: <this>`); every event carries a
/// `sequence_number` that increases through the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ResponseStreamEvent {
    /// The response exists (`status: "in_progress"`, no output yet).
    #[serde(rename = "response.created")]
    Created {
        /// The response so far.
        response: Box<Response>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// Generation has started.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// The response so far.
        response: Box<Response>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// The response is done and whole.
    #[serde(rename = "response.completed")]
    Completed {
        /// The whole response, with usage.
        response: Box<Response>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// The response is done but cut short.
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// The response, with `incomplete_details`.
        response: Box<Response>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// The response failed.
    #[serde(rename = "response.failed")]
    Failed {
        /// The response, with `error`.
        response: Box<Response>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// An output item begins.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        /// Its index in `output`.
        output_index: u32,
        /// The item, empty so far.
        item: OutputItem,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// An output item is whole.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        /// Its index in `output`.
        output_index: u32,
        /// The whole item.
        item: OutputItem,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A part of a message begins.
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        /// The message's id.
        item_id: String,
        /// The message's index in `output`.
        output_index: u32,
        /// The part's index in `content`.
        content_index: u32,
        /// The part, empty so far.
        part: OutputContent,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A part of a message is whole.
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        /// The message's id.
        item_id: String,
        /// The message's index in `output`.
        output_index: u32,
        /// The part's index in `content`.
        content_index: u32,
        /// The whole part.
        part: OutputContent,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A piece of text.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        /// The message's id.
        item_id: String,
        /// The message's index in `output`.
        output_index: u32,
        /// The part's index in `content`.
        content_index: u32,
        /// The piece.
        delta: String,
        /// Token log probabilities; always empty from the mock.
        #[serde(default)]
        logprobs: Vec<serde_json::Value>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A text part's whole text.
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        /// The message's id.
        item_id: String,
        /// The message's index in `output`.
        output_index: u32,
        /// The part's index in `content`.
        content_index: u32,
        /// The whole text.
        text: String,
        /// Token log probabilities; always empty from the mock.
        #[serde(default)]
        logprobs: Vec<serde_json::Value>,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A piece of a function call's arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        /// The call's id (`fc_...`).
        item_id: String,
        /// The call's index in `output`.
        output_index: u32,
        /// The piece.
        delta: String,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// A function call's whole arguments.
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        /// The call's id (`fc_...`).
        item_id: String,
        /// The call's index in `output`.
        output_index: u32,
        /// The function's name.
        #[serde(default)]
        name: String,
        /// The whole arguments.
        arguments: String,
        /// Position in the stream.
        sequence_number: u64,
    },
    /// An error ended the stream.
    #[serde(rename = "error")]
    Error(StreamError),
}

impl ResponseStreamEvent {
    /// The event's `type`, which is also its SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Failed { .. } => "response.failed",
            Self::OutputItemAdded { .. } => "response.output_item.added",
            Self::OutputItemDone { .. } => "response.output_item.done",
            Self::ContentPartAdded { .. } => "response.content_part.added",
            Self::ContentPartDone { .. } => "response.content_part.done",
            Self::OutputTextDelta { .. } => "response.output_text.delta",
            Self::OutputTextDone { .. } => "response.output_text.done",
            Self::FunctionCallArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::FunctionCallArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::Error(_) => "error",
        }
    }

    /// The event's position in its stream.
    pub fn sequence_number(&self) -> u64 {
        match self {
            Self::Created {
                sequence_number, ..
            }
            | Self::InProgress {
                sequence_number, ..
            }
            | Self::Completed {
                sequence_number, ..
            }
            | Self::Incomplete {
                sequence_number, ..
            }
            | Self::Failed {
                sequence_number, ..
            }
            | Self::OutputItemAdded {
                sequence_number, ..
            }
            | Self::OutputItemDone {
                sequence_number, ..
            }
            | Self::ContentPartAdded {
                sequence_number, ..
            }
            | Self::ContentPartDone {
                sequence_number, ..
            }
            | Self::OutputTextDelta {
                sequence_number, ..
            }
            | Self::OutputTextDone {
                sequence_number, ..
            }
            | Self::FunctionCallArgumentsDelta {
                sequence_number, ..
            }
            | Self::FunctionCallArgumentsDone {
                sequence_number, ..
            } => *sequence_number,
            Self::Error(e) => e.sequence_number,
        }
    }
}

/// The `error` event: the published schema's flat `code`, `message` and `param`, and the
/// nested `error` object the API itself sends, which the SDKs' stream readers raise from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamError {
    /// Machine-readable code.
    pub code: Option<String>,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, if any.
    pub param: Option<String>,
    /// The whole error, as in an error body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::openai::ErrorBody>,
    /// Position in the stream.
    pub sequence_number: u64,
}
