//! A streamed tool-calling chat answer, over real HTTP from the client stack to the mock (which
//! streams each call's arguments in several fragments), comes back with the same `tool_calls`
//! and `finish_reason` as the unstreamed answer to the same request; and a cached streamed
//! answer keeps them.

mod common;

use common::mock;
use gauntlet::client::wire::openai::responses::{FunctionTool, ToolChoiceMode};
use gauntlet::client::{ChatRequest, ClientConfig, ClientStack, Outcome, Route};
use serde_json::Value;

fn stack(toml: &str, url: &str) -> ClientStack {
    let mut c: ClientConfig = toml::from_str(toml).expect("valid client config");
    c.adapter.base_url = url.to_string();
    ClientStack::from_config(&c).unwrap()
}

fn ask(stream: bool) -> ChatRequest {
    ChatRequest {
        route: Route::Chat,
        stream,
        tools: vec![FunctionTool {
            name: "lookup_topic".into(),
            description: Some("Looks a topic up.".into()),
            parameters: Some(serde_json::json!({
                "type": "object",
                "properties": {"topic": {"type": "string"}, "depth": {"type": "integer"}},
                "required": ["topic", "depth"],
                "additionalProperties": false
            })),
            strict: Some(true),
        }],
        tool_choice: Some(ToolChoiceMode::Required),
        ..ChatRequest::user_text("gpt-4o-mini", "Look up rate limiting in depth")
    }
}

#[tokio::test]
async fn streamed_tool_calls_equal_the_unstreamed_answers() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = false", &m.url);
    let plain = s.send(ask(false)).await.unwrap();
    let streamed = s.send(ask(true)).await.unwrap();
    assert_eq!(plain.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(streamed.finish_reason.as_deref(), Some("tool_calls"));
    assert!(!plain.tool_calls.is_empty(), "{plain:?}");
    assert_eq!(streamed.tool_calls, plain.tool_calls);
    for c in &streamed.tool_calls {
        assert!(c.call_id.starts_with("call_"), "{c:?}");
        let args: Value = serde_json::from_str(&c.arguments).unwrap();
        assert!(args["topic"].is_string(), "{args}");
    }
    // The arguments were long enough to come in several fragments.
    assert!(
        streamed.tool_calls[0].arguments.len() > 8,
        "{:?}",
        streamed.tool_calls
    );
}

#[tokio::test]
async fn a_cached_streamed_tool_call_answer_keeps_its_calls() {
    let m = mock("").await;
    let s = stack("[cache]\nenabled = true", &m.url);
    let first = s.send(ask(true)).await.unwrap();
    assert_eq!(first.outcome, Outcome::Upstream);
    let again = s.send(ask(true)).await.unwrap();
    assert_eq!(again.outcome, Outcome::CacheHit, "{again:?}");
    assert_eq!(again.tool_calls, first.tool_calls);
    assert!(!again.tool_calls.is_empty());
    assert_eq!(again.finish_reason.as_deref(), Some("tool_calls"));
}
