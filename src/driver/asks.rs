//! What a tool-call or structured-output request carries: one function the model must call
//! (`tool_choice: "required"`), or one JSON Schema its answer must follow. The same definitions
//! on every request, so such requests still share cache entries with their own kind (and never
//! with plain ones: the key includes them).

use std::sync::LazyLock;

use crate::client::wire::openai::responses::{FunctionTool, JsonSchemaFormat, ToolChoiceMode};
use crate::client::ChatRequest;
use crate::scenario::Ask;

/// The function a tool-call request offers: looking a topic up, which every built-in prompt
/// names one of.
static LOOKUP_TOOL: LazyLock<FunctionTool> = LazyLock::new(|| FunctionTool {
    name: "lookup_topic".into(),
    description: Some("Looks up what the knowledge base says about a topic.".into()),
    parameters: Some(serde_json::json!({
        "type": "object",
        "properties": {
            "topic": {"type": "string", "description": "The topic, as the user wrote it."},
            "depth": {"type": "string", "enum": ["summary", "detailed"]}
        },
        "required": ["topic", "depth"],
        "additionalProperties": false
    })),
    strict: Some(true),
});

/// The schema a structured-output request's answer follows.
static ANSWER_FORMAT: LazyLock<JsonSchemaFormat> = LazyLock::new(|| JsonSchemaFormat {
    name: "answer".into(),
    schema: serde_json::json!({
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "confidence": {"type": "number"}
        },
        "required": ["answer", "confidence"],
        "additionalProperties": false
    }),
    description: Some("The answer and how sure of it the model is.".into()),
    strict: Some(true),
});

/// Adds to `req` what `ask` asks for.
pub(super) fn apply(req: &mut ChatRequest, ask: Ask) {
    match ask {
        Ask::Text => {}
        Ask::ToolCall => {
            req.tools = vec![LOOKUP_TOOL.clone()];
            req.tool_choice = Some(ToolChoiceMode::Required);
        }
        Ask::StructuredOutput => req.response_format = Some(ANSWER_FORMAT.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ask_sets_its_fields_only() {
        let mut req = ChatRequest::user_text("m", "q");
        apply(&mut req, Ask::Text);
        assert!(req.tools.is_empty() && req.tool_choice.is_none() && req.response_format.is_none());
        apply(&mut req, Ask::ToolCall);
        assert_eq!(req.tools[0].name, "lookup_topic");
        assert_eq!(req.tool_choice, Some(ToolChoiceMode::Required));
        assert!(req.response_format.is_none());
        let mut req = ChatRequest::user_text("m", "q");
        apply(&mut req, Ask::StructuredOutput);
        assert!(req.tools.is_empty());
        assert_eq!(
            req.response_format.as_ref().map(|f| f.name.as_str()),
            Some("answer")
        );
    }
}
