//! Anthropic's tools on the shared, seeded tool decision ([`crate::content::tools`]): which
//! calls an answer makes, and how `tool_use` blocks are written and streamed.
//!
//! `tool_choice` maps as `auto` → the fault file's `[tools] auto_call_share`, `any` → at least
//! one call, `tool` → exactly that one, `none` → none; without `tool_choice`, tools are `auto`
//! (the API's default). Parallel calls are allowed unless `disable_parallel_tool_use`. An
//! answer that calls tools is only `tool_use` blocks (no text before them), with
//! `stop_reason: "tool_use"`; each `input` is an instance of the tool's `input_schema`,
//! streamed as `input_json_delta` pieces of four characters.

use bytes::Bytes;

use super::refusal::Refusal;
use crate::content::{self, Decide, ToolCall, ToolChoice, ToolDef, ToolError};
use crate::server::dialect::sse_event;
use gauntlet_wire::anthropic::ToolChoice as Choice;
use gauntlet_wire::anthropic::{
    BlockDelta, Content, ContentBlock, ContentBlockParam, MessagesRequest, StreamEvent,
};

/// Characters of a tool's input per `input_json_delta`, as text streams one token (4 chars).
const PIECE_CHARS: usize = 4;

/// The calls this request's answer makes (none: it answers with text), or a 400 when its
/// `tools` / `tool_choice` are not ones the API takes. `seed` fixes the decision and inputs.
pub(crate) fn calls(
    req: &MessagesRequest,
    seed: u64,
    auto_call_share: f64,
) -> Result<Vec<ToolCall>, Refusal> {
    let tools = req.tools.as_deref().unwrap_or_default();
    if let Some(i) = tools.iter().position(|t| !t.input_schema.is_object()) {
        return Err(Refusal::invalid(format!(
            "tools.{i}.input_schema: Input should be a valid dictionary"
        )));
    }
    let defs: Vec<ToolDef<'_>> = tools
        .iter()
        .map(|t| ToolDef {
            name: &t.name,
            parameters: Some(&t.input_schema),
        })
        .collect();
    let (choice, parallel) = match &req.tool_choice {
        None => (ToolChoice::Auto, true),
        Some(Choice::Auto {
            disable_parallel_tool_use,
        }) => (ToolChoice::Auto, disable_parallel_tool_use != &Some(true)),
        Some(Choice::Any {
            disable_parallel_tool_use,
        }) => (
            ToolChoice::Required,
            disable_parallel_tool_use != &Some(true),
        ),
        Some(Choice::Tool { name, .. }) => (ToolChoice::Function(name), false),
        Some(Choice::None) => (ToolChoice::None, false),
    };
    let how = Decide {
        choice,
        parallel,
        auto_call_share,
        seed,
        id_prefix: "toolu_",
        after_tool_result: req.messages.last().is_some_and(|m| {
            matches!(&m.content, Content::Blocks(blocks)
                if blocks.iter().any(|b| matches!(b, ContentBlockParam::ToolResult { .. })))
        }),
    };
    content::decide(&defs, &how).map_err(|e| match e {
        ToolError::UnknownFunction { name } => Refusal::invalid(format!(
            "tool_choice.name: tool '{name}' is not among the tools provided"
        )),
        ToolError::NoTools => {
            Refusal::invalid("tool_choice: tool_choice may only be given with tools".into())
        }
    })
}

/// The call's `input`, the JSON object its arguments are.
fn input(call: &ToolCall) -> serde_json::Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|_| serde_json::json!({}))
}

/// The answer's `content`: one `tool_use` block per call.
pub(crate) fn blocks(calls: &[ToolCall]) -> Vec<ContentBlock> {
    calls
        .iter()
        .map(|c| ContentBlock::ToolUse {
            id: c.id.clone(),
            name: c.name.clone(),
            input: input(c),
        })
        .collect()
}

/// Output tokens of the calls: their names and inputs by the one approximation, at least 1.
pub(crate) fn output_tokens(calls: &[ToolCall]) -> u32 {
    let chars: usize = calls.iter().map(|c| c.name.len() + c.arguments.len()).sum();
    (chars.div_ceil(gauntlet_wire::tokens::CHARS_PER_TOKEN) as u32).max(1)
}

fn event(e: &StreamEvent) -> Bytes {
    sse_event(e.name(), e)
}

fn start(index: u32, call: &ToolCall) -> Bytes {
    event(&StreamEvent::ContentBlockStart {
        index,
        content_block: ContentBlock::ToolUse {
            id: call.id.clone(),
            name: call.name.clone(),
            input: serde_json::json!({}),
        },
    })
}

fn stop(index: u32) -> Bytes {
    event(&StreamEvent::ContentBlockStop { index })
}

/// The calls as stream parts: the first block's start (for the head); one piece per four
/// characters of input, the next block's stop-and-start riding on its first piece; and the last
/// block's stop (for the tail).
pub(crate) fn stream(calls: &[ToolCall]) -> (Bytes, Vec<Bytes>, Bytes) {
    let mut pieces = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let index = i as u32;
        let mut parts = content::pieces(&call.arguments, PIECE_CHARS).into_iter();
        let first = parts.next().unwrap_or("");
        let mut piece = Vec::new();
        if i > 0 {
            piece.extend_from_slice(&stop(index - 1));
            piece.extend_from_slice(&start(index, call));
        }
        piece.extend_from_slice(&delta(index, first));
        pieces.push(Bytes::from(piece));
        pieces.extend(parts.map(|p| delta(index, p)));
    }
    let head = calls.first().map(|c| start(0, c)).unwrap_or_default();
    let last = calls.len().saturating_sub(1) as u32;
    (head, pieces, stop(last))
}

fn delta(index: u32, piece: &str) -> Bytes {
    event(&StreamEvent::ContentBlockDelta {
        index,
        delta: BlockDelta::InputJsonDelta {
            partial_json: piece.into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(extra: serde_json::Value) -> MessagesRequest {
        let mut b = json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["tz"]}}
        ]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        serde_json::from_value(b).unwrap()
    }

    #[test]
    fn a_forced_tool_is_called_once_with_a_valid_input() {
        let req = request(json!({"tool_choice": {"type": "tool", "name": "time"}}));
        for seed in 0..20 {
            let calls = calls(&req, seed, 0.0).unwrap();
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].name, "time");
            assert!(calls[0].id.starts_with("toolu_"));
            let tz = input(&calls[0])["tz"].clone();
            assert!(tz == "UTC" || tz == "CET", "{tz}");
        }
        assert_eq!(calls(&req, 3, 0.0), calls(&req, 3, 0.0), "seeded");
    }

    #[test]
    fn choices_map_onto_the_shared_decision() {
        let any = request(json!({"tool_choice": {"type": "any"}}));
        assert!((0..20).all(|s| !calls(&any, s, 0.0).unwrap().is_empty()));
        let single =
            request(json!({"tool_choice": {"type": "any", "disable_parallel_tool_use": true}}));
        assert!((0..20).all(|s| calls(&single, s, 0.0).unwrap().len() == 1));
        let none = request(json!({"tool_choice": {"type": "none"}}));
        assert!(calls(&none, 1, 1.0).unwrap().is_empty());
        // Without tool_choice, tools are `auto`: the share decides.
        let auto = request(json!({}));
        assert!((0..20).all(|s| !calls(&auto, s, 1.0).unwrap().is_empty()));
        assert!((0..20).all(|s| calls(&auto, s, 0.0).unwrap().is_empty()));
    }

    #[test]
    fn bad_tool_settings_are_400s_naming_the_field() {
        let unknown = request(json!({"tool_choice": {"type": "tool", "name": "nope"}}));
        assert!(calls(&unknown, 0, 0.5)
            .unwrap_err()
            .message
            .starts_with("tool_choice.name: "));
        let mut no_tools = request(json!({"tool_choice": {"type": "any"}}));
        no_tools.tools = None;
        assert!(calls(&no_tools, 0, 0.5)
            .unwrap_err()
            .message
            .starts_with("tool_choice: "));
        let mut bad_schema = request(json!({}));
        bad_schema.tools.as_mut().unwrap()[1].input_schema = json!("object");
        assert_eq!(
            calls(&bad_schema, 0, 0.5).unwrap_err().message,
            "tools.1.input_schema: Input should be a valid dictionary"
        );
    }

    #[test]
    fn the_stream_pieces_add_up_to_each_input() {
        let req = request(json!({"tool_choice": {"type": "any"}}));
        let calls = (0..50)
            .map(|s| calls(&req, s, 0.0).unwrap())
            .find(|c| c.len() == 2)
            .expect("some seed calls both tools");
        let (head, pieces, tail) = stream(&calls);
        let mut all = head.to_vec();
        pieces.iter().for_each(|p| all.extend_from_slice(p));
        all.extend_from_slice(&tail);
        let text = String::from_utf8(all).unwrap();
        let mut inputs = vec![String::new(); 2];
        let mut order = Vec::new();
        for e in text.split("\n\n").filter(|e| !e.is_empty()) {
            let data = e.split_once("\ndata: ").unwrap().1;
            match serde_json::from_str::<StreamEvent>(data).unwrap() {
                StreamEvent::ContentBlockDelta {
                    index,
                    delta: BlockDelta::InputJsonDelta { partial_json },
                } => inputs[index as usize].push_str(&partial_json),
                other => order.push(other.name()),
            }
        }
        assert_eq!(
            order,
            [
                "content_block_start",
                "content_block_stop",
                "content_block_start",
                "content_block_stop"
            ]
        );
        for (call, streamed) in calls.iter().zip(inputs) {
            assert_eq!(streamed, call.arguments);
        }
        assert_eq!(blocks(&calls).len(), 2);
    }
}
