"""An error that strikes a chat stream part-way: the SDK raises openai.APIError with the error
object's fields, after some content, not a connection error."""

import openai

from sdk_lib import MODEL, check, client


def run() -> str:
    text, pieces = "", 0
    stream = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Stream until it breaks."}], stream=True
    )
    try:
        for chunk in stream:
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece:
                pieces += 1
                text += piece
    except openai.APIConnectionError as e:
        raise AssertionError(f"a connection error, not the stream's error event: {e!r}") from e
    except openai.APIError as e:
        assert pieces == 5, f"the fault file puts the error after 5 content pieces, got {pieces}"
        assert isinstance(e.body, dict) and e.body.get("message") == e.message, e.body
        assert e.type == "server_error", e.type  # status = 503: OpenAI's overloaded object
        return f"{len(text)} characters, then APIError type={e.type} code={e.code}: {e.message}"
    raise AssertionError(f"the stream ended without an error after {len(text)} characters")


check("stream_error", run)
