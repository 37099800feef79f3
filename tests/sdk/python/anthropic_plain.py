"""messages.create without streaming: the SDK parses the mock's `message` (text, stop_reason,
usage, request id), and a small max_tokens stops with `max_tokens`."""

from anthropic.types import Message, TextBlock

from anthropic_lib import MODEL, client
from sdk_lib import check


def ask(max_tokens: int) -> Message:
    return client().messages.create(
        model=MODEL, max_tokens=max_tokens, messages=[{"role": "user", "content": "Say something about load."}]
    )


def run() -> str:
    m = ask(1024)
    assert isinstance(m, Message) and m.type == "message", m
    assert m.id.startswith("msg_"), m.id
    assert m.role == "assistant" and m.model == MODEL, (m.role, m.model)
    assert len(m.content) == 1 and isinstance(m.content[0], TextBlock), m.content
    text = m.content[0].text
    assert text and isinstance(text, str), m.content
    assert m.stop_reason == "end_turn" and m.stop_sequence is None, (m.stop_reason, m.stop_sequence)
    u = m.usage
    assert u.input_tokens > 0 and u.output_tokens > 0, u
    # The mock's 4 characters a token, rounded up.
    assert u.output_tokens == -(-len(text) // 4), (u.output_tokens, len(text))
    assert (m._request_id or "").startswith("req_"), m._request_id

    cut = ask(3)
    assert cut.stop_reason == "max_tokens", cut.stop_reason
    assert cut.usage.output_tokens == 3, cut.usage
    assert text.startswith(cut.content[0].text) and len(cut.content[0].text) < len(text), (cut.content, text)
    return f"{u.output_tokens} tokens, end_turn, request id {m._request_id}; max_tokens=3 stops with max_tokens"


check("anthropic_plain", run)
