"""A streamed tool call: the chunks' delta.tool_calls fragments, accumulated by index as OpenAI's
docs show, give the same calls as the unstreamed answer (the mock is deterministic), with the
arguments split over several chunks; and the SDK's own stream helper assembles the same calls."""

import json

from sdk_lib import MODEL, check, client

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                "required": ["city", "unit"],
            },
        },
    }
]
ASK: dict = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "What is the weather in Lisbon?"}],
    "tools": TOOLS,
    "tool_choice": "required",
}


def streamed() -> tuple[list, list, str | None]:
    """The calls joined from the deltas, the argument fragments per call, the finish reason."""
    calls: list = []
    fragments: list = []
    finish = None
    for chunk in client().chat.completions.create(**ASK, stream=True):
        for choice in chunk.choices:
            for d in choice.delta.tool_calls or []:
                while len(calls) <= d.index:
                    calls.append({"id": "", "type": "function", "name": "", "arguments": ""})
                    fragments.append(0)
                call = calls[d.index]
                if d.id:
                    call["id"] = d.id
                if d.function and d.function.name:
                    call["name"] = d.function.name
                if d.function and d.function.arguments:
                    call["arguments"] += d.function.arguments
                    fragments[d.index] += 1
            if choice.finish_reason:
                finish = choice.finish_reason
    return calls, fragments, finish


def run() -> str:
    calls, fragments, finish = streamed()
    assert finish == "tool_calls", finish
    assert calls, "the stream carried tool calls"
    assert fragments[0] > 1, f"the arguments came in {fragments[0]} fragment(s)"

    plain = client().chat.completions.create(**ASK).choices[0].message.tool_calls or []
    want = [{"id": c.id, "type": c.type, "name": c.function.name, "arguments": c.function.arguments} for c in plain]
    assert calls == want, (calls, want)
    for call in calls:
        assert isinstance(json.loads(call["arguments"]).get("city"), str), call

    with client().chat.completions.stream(**ASK) as helper:
        final = helper.get_final_completion()
    got = [(c.id, c.function.name, c.function.arguments) for c in final.choices[0].message.tool_calls or []]
    assert got == [(c["id"], c["name"], c["arguments"]) for c in want], (got, want)
    return f"{len(calls)} call(s), arguments in {fragments[0]} fragments, equal to the plain answer and the helper's"


check("tools_stream", run)
