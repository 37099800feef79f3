//! Streamed `delta.tool_calls` fragments assembled into whole calls, so a streamed tool-calling
//! answer carries the same `tool_calls` as the unstreamed one (in the response, the cache and
//! the proxy's replay).
//!
//! OpenAI sends each call as fragments sharing its `index`: the first has `id`, `type` and the
//! function's name, later ones pieces of `arguments` to be joined in order. The upstream is
//! hostile like any input: an index past [`MAX_TOOL_CALLS`] or arguments past
//! [`MAX_ARGUMENT_BYTES`] (all calls together) end the stream as an error instead of growing
//! memory.

use gauntlet_wire::openai::{FunctionCall, ToolCall, ToolCallDelta};

/// Most calls one answer may make: OpenAI accepts at most 128 tools, and an index is a
/// position, so a larger one is not a call but a hostile stream.
pub const MAX_TOOL_CALLS: usize = 128;

/// Most argument bytes of all calls together: far beyond any real call's arguments, well
/// under the adapter's default response limit, so a stream of endless argument pieces fails
/// here with a clear reason.
pub const MAX_ARGUMENT_BYTES: usize = 1024 * 1024;

/// Why fragments cannot be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolCallStreamError {
    /// A fragment's `index` is past the cap on calls.
    #[error("tool call index {index} is over the limit of {MAX_TOOL_CALLS} calls")]
    TooManyCalls {
        /// The index sent.
        index: u32,
    },
    /// The arguments grew past the cap.
    #[error("tool call arguments over {MAX_ARGUMENT_BYTES} bytes")]
    ArgumentsTooLong,
}

/// The calls assembled so far, by index.
#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: Vec<Option<ToolCall>>,
    argument_bytes: usize,
}

impl ToolCallAssembler {
    /// Adds one fragment: the first `id`, `type` and name of a call stick, arguments are
    /// appended.
    pub fn push(&mut self, delta: ToolCallDelta) -> Result<(), ToolCallStreamError> {
        let index = delta.index as usize;
        if index >= MAX_TOOL_CALLS {
            return Err(ToolCallStreamError::TooManyCalls { index: delta.index });
        }
        let function = delta.function.unwrap_or_default();
        let added = function.arguments.as_deref().map_or(0, str::len);
        if self.argument_bytes.saturating_add(added) > MAX_ARGUMENT_BYTES {
            return Err(ToolCallStreamError::ArgumentsTooLong);
        }
        self.argument_bytes += added;
        if self.calls.len() <= index {
            self.calls.resize(index + 1, None);
        }
        let call = self.calls[index].get_or_insert_with(ToolCall::default);
        set_once(&mut call.id, delta.id);
        set_once(&mut call.kind, delta.kind);
        set_once(&mut call.function.name, function.name);
        if let Some(a) = function.arguments {
            call.function.arguments.push_str(&a);
        }
        Ok(())
    }

    /// Whether no fragment came.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls in index order (indices never sent are skipped); `type` defaults to
    /// `function`, the only kind chat completions stream.
    pub fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .flatten()
            .map(|mut c| {
                if c.kind.is_empty() {
                    c.kind = "function".into();
                }
                c
            })
            .collect()
    }
}

fn set_once(field: &mut String, value: Option<String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        if field.is_empty() {
            *field = v;
        }
    }
}

/// A whole call as the unstreamed answer writes it, for tests and replays.
pub fn whole(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        kind: "function".into(),
        function: FunctionCall {
            name: name.into(),
            arguments: arguments.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gauntlet_wire::openai::FunctionCallDelta;

    fn frag(index: u32, first: Option<(&str, &str)>, args: &str) -> ToolCallDelta {
        ToolCallDelta {
            index,
            id: first.map(|f| f.0.to_string()),
            kind: first.map(|_| "function".to_string()),
            function: Some(FunctionCallDelta {
                name: first.map(|f| f.1.to_string()),
                arguments: Some(args.to_string()),
            }),
        }
    }

    #[test]
    fn fragments_join_per_index_in_order() {
        let mut a = ToolCallAssembler::default();
        for d in [
            frag(0, Some(("call_a", "f")), ""),
            frag(1, Some(("call_b", "g")), ""),
            frag(0, None, "{\"ci"),
            frag(1, None, "{}"),
            frag(0, None, "ty\":\"x\"}"),
            // A later id or name does not replace the first.
            frag(0, Some(("call_z", "h")), ""),
        ] {
            a.push(d).unwrap();
        }
        assert_eq!(
            a.finish(),
            vec![
                whole("call_a", "f", "{\"city\":\"x\"}"),
                whole("call_b", "g", "{}")
            ]
        );
    }

    #[test]
    fn missing_parts_and_gaps_are_tolerated() {
        let mut a = ToolCallAssembler::default();
        a.push(ToolCallDelta {
            index: 2,
            ..ToolCallDelta::default()
        })
        .unwrap();
        let calls = a.finish();
        assert_eq!(calls, vec![whole("", "", "")]);
        assert!(ToolCallAssembler::default().is_empty());
    }

    #[test]
    fn a_huge_index_is_refused_without_allocating() {
        let mut a = ToolCallAssembler::default();
        let err = a.push(frag(u32::MAX, Some(("c", "f")), "")).unwrap_err();
        assert_eq!(err, ToolCallStreamError::TooManyCalls { index: u32::MAX });
        assert!(a.push(frag(MAX_TOOL_CALLS as u32, None, "")).is_err());
        a.push(frag(MAX_TOOL_CALLS as u32 - 1, None, "")).unwrap();
        assert_eq!(a.calls.len(), MAX_TOOL_CALLS);
    }

    #[test]
    fn endless_arguments_stop_at_the_cap() {
        let mut a = ToolCallAssembler::default();
        let piece = "x".repeat(1000);
        let mut pushed = 0;
        let err = loop {
            match a.push(frag(pushed % 3, None, &piece)) {
                Ok(()) => pushed += 1,
                Err(e) => break e,
            }
            assert!(pushed < 10_000, "never refused");
        };
        assert_eq!(err, ToolCallStreamError::ArgumentsTooLong);
        assert_eq!(pushed as usize, MAX_ARGUMENT_BYTES / 1000);
        assert!(a.argument_bytes <= MAX_ARGUMENT_BYTES);
    }
}
