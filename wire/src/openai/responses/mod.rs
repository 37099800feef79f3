//! OpenAI Responses API (`POST /v1/responses`) wire types, shared by the mock and the client.
//!
//! Shapes follow OpenAI's published OpenAPI spec as the official SDKs (openai-python's
//! `types/responses`, openai-node's `resources/responses`) read it: fields the SDKs mark required
//! are always serialised, as `null` where the spec allows it, so a strict parser accepts the
//! mock's answers. The raw API sends no `output_text`: the SDKs compute it client-side, and so
//! does [`Response::output_text`] here.

mod events;
mod request;
mod response;

pub use events::{ResponseStreamEvent, StreamError};
pub use request::{
    FunctionCallOutput, FunctionKind, FunctionTool, InputItem, InputItemError, InputMessage,
    JsonSchemaFormat, RawInputItem, ResponseInput, ResponseRequest, TextConfig, TextFormat, Tool,
    ToolChoice, ToolChoiceFunction, ToolChoiceMode,
};
pub use response::{
    FunctionCall, IncompleteDetails, IncompleteReason, InputTokensDetails, ItemStatus,
    OutputContent, OutputItem, OutputMessage, OutputTokensDetails, Response, ResponseError,
    ResponseStatus, ResponseUsage,
};

#[cfg(test)]
mod tests;
