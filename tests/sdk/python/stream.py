"""chat.completions.create(stream=True): the deltas add up to the unstreamed answer to the same
prompt (the mock is deterministic), the finish reason is stop, include_usage brings usage; and
the SDK's chat.completions.stream helper builds the same message."""

from sdk_lib import MODEL, check, client

MESSAGES = [{"role": "user", "content": "Stream something about retries."}]


def run() -> str:
    openai = client()
    text, finish, usage, chunks = "", None, None, 0
    for chunk in openai.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ):
        assert chunk.object == "chat.completion.chunk"
        chunks += 1
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text, "the deltas carry text"
    assert finish == "stop", finish
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage
    plain = openai.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert plain.choices[0].message.content == text, "streamed and plain answers agree"
    with openai.chat.completions.stream(model=MODEL, messages=MESSAGES) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == text
    return f"{chunks} chunks, {len(text)} characters, equal to the plain answer and the helper's"


check("stream", run)
