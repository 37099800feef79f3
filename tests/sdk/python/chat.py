"""chat.completions.create without streaming: the SDK parses the mock's chat.completion."""

from sdk_lib import MODEL, check, client


def run() -> str:
    c = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say something about load."}]
    )
    assert c.object == "chat.completion", c.object
    assert c.id.startswith("chatcmpl-"), c.id
    assert c.model == MODEL
    assert len(c.choices) == 1
    choice = c.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content, choice.message
    assert choice.finish_reason == "stop", choice.finish_reason
    u = c.usage
    assert u is not None and u.prompt_tokens > 0 and u.completion_tokens > 0, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
    assert (c._request_id or "").startswith("req_"), c._request_id
    return f"{u.completion_tokens} tokens, finish_reason stop, request id {c._request_id}"


check("chat", run)
