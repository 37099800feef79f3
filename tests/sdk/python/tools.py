"""A tool-call round trip: tool_choice "required" brings get_weather calls whose arguments hold
the required "city"; the tool results sent back bring a text answer."""

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
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def run() -> str:
    openai = client()
    messages: list = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    first = openai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, tool_choice="required")
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice.finish_reason
    calls = choice.message.tool_calls or []
    assert calls, choice.message
    for call in calls:
        assert call.type == "function" and call.function.name == "get_weather", call
        assert isinstance(json.loads(call.function.arguments).get("city"), str), call.function.arguments
    messages.append(choice.message.model_dump(exclude_none=True))
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 21}'})
    answer = openai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS).choices[0]
    assert answer.finish_reason == "stop", answer.finish_reason
    assert not answer.message.tool_calls, answer.message.tool_calls
    assert answer.message.content, "the final answer has text"
    return f"{len(calls)} call(s) with {calls[0].function.arguments}, then a text answer"


check("tools", run)
