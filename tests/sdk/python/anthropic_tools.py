"""A tool loop: `tool_choice={"type": "any"}` brings `tool_use` blocks (`toolu_` ids) whose
`input` has the schema's required keys; streamed, the SDK assembles the same inputs from
`input_json_delta`s; the `tool_result`s sent back bring a text answer that ends the turn (the
fault file sets `[tools] auto_call_share = 0`, so `auto` answers with text)."""

from anthropic.types import ToolUseBlock

from anthropic_lib import MODEL, client
from sdk_lib import check

WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
        },
        "required": ["city", "days"],
    },
}


def check_calls(content: list) -> list[ToolUseBlock]:
    assert content and all(isinstance(b, ToolUseBlock) for b in content), content
    for b in content:
        assert b.id.startswith("toolu_") and b.name == "get_weather", b
        assert isinstance(b.input, dict), b.input
        assert isinstance(b.input.get("city"), str) and isinstance(b.input.get("days"), int), b.input
        assert set(b.input) <= set(WEATHER["input_schema"]["properties"]), b.input
        if "unit" in b.input:
            assert b.input["unit"] in ("celsius", "fahrenheit"), b.input
    assert len({b.id for b in content}) == len(content), "ids are distinct"
    return content


def run() -> str:
    c = client()
    messages: list = [{"role": "user", "content": "What is the weather in Oslo and Lima?"}]
    asked = c.messages.create(
        model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER], tool_choice={"type": "any"}
    )
    assert asked.stop_reason == "tool_use", asked.stop_reason
    calls = check_calls(asked.content)

    with c.messages.stream(
        model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER], tool_choice={"type": "any"}
    ) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_reason == "tool_use", streamed.stop_reason
    assert [(b.name, b.input) for b in check_calls(streamed.content)] == [(b.name, b.input) for b in calls]

    messages.append({"role": "assistant", "content": asked.content})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": f"Sunny in {b.input['city']}, 21 C"}
                for b in calls
            ],
        }
    )
    answer = c.messages.create(model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER])
    assert answer.stop_reason == "end_turn", answer.stop_reason
    assert len(answer.content) == 1 and answer.content[0].type == "text" and answer.content[0].text, answer.content
    inputs = ", ".join(str(b.input) for b in calls)
    return f"{len(calls)} tool_use block(s) {inputs}, the same streamed; the results brought text with end_turn"


check("anthropic_tools", run)
