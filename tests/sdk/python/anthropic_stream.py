"""messages.stream and messages.create(stream=True): the named events in Anthropic's order, the
text deltas concatenated equal the helper's final message's text and the unstreamed answer to
the same prompt, and the final usage counts what was streamed."""

from anthropic_lib import MODEL, client
from sdk_lib import check

PROMPT = [{"role": "user", "content": "Stream about limits."}]


def raw_events(c) -> tuple[list[str], str, int]:
    """The event types of a raw stream (the SDK drops `ping`), its text and its output tokens."""
    types, text, output_tokens = [], "", None
    for event in c.messages.create(model=MODEL, max_tokens=1024, messages=PROMPT, stream=True):
        types.append(event.type)
        if event.type == "message_start":
            assert event.message.id.startswith("msg_") and event.message.content == [], event.message
            assert event.message.stop_reason is None, event.message
        elif event.type == "content_block_delta":
            assert event.index == 0 and event.delta.type == "text_delta", event
            text += event.delta.text
        elif event.type == "message_delta":
            assert event.delta.stop_reason == "end_turn", event.delta
            output_tokens = event.usage.output_tokens
    assert output_tokens is not None, types
    return types, text, output_tokens


def run() -> str:
    c = client()
    plain = c.messages.create(model=MODEL, max_tokens=1024, messages=PROMPT)
    types, raw_text, raw_tokens = raw_events(c)
    deltas = types.count("content_block_delta")
    expected = ["message_start", "content_block_start"] + ["content_block_delta"] * deltas
    expected += ["content_block_stop", "message_delta", "message_stop"]
    assert types == expected and deltas > 1, types

    pieces = []
    with c.messages.stream(model=MODEL, max_tokens=1024, messages=PROMPT) as stream:
        for piece in stream.text_stream:
            pieces.append(piece)
        final = stream.get_final_message()
    text = "".join(pieces)
    assert len(pieces) == deltas, (len(pieces), deltas)
    assert final.content[0].type == "text" and final.content[0].text == text, (final.content, text)
    assert text == raw_text == plain.content[0].text, "streamed and unstreamed answers to one prompt agree"
    assert final.stop_reason == "end_turn", final.stop_reason
    assert final.usage.output_tokens == raw_tokens == plain.usage.output_tokens, final.usage
    assert final.usage.input_tokens == plain.usage.input_tokens > 0, final.usage
    return f"{deltas} text deltas, {len(text)} characters, equal to the final and the unstreamed message"


check("anthropic_stream", run)
