"""An error that strikes a chat stream part-way: the SDK raises openai.APIError with the error
object's fields, after some content, not a connection error."""

import openai

from sdk_lib import MODEL, check, client


def run() -> str:
    text = ""
    stream = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Stream until it breaks."}], stream=True
    )
    try:
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
    except openai.APIConnectionError as e:
        raise AssertionError(f"a connection error, not the stream's error event: {e!r}") from e
    except openai.APIError as e:
        assert text, "some content came before the error"
        assert isinstance(e.body, dict) and e.body.get("message") == e.message, e.body
        assert isinstance(e.type, str), e.type
        return f"{len(text)} characters, then APIError type={e.type} code={e.code}: {e.message}"
    raise AssertionError(f"the stream ended without an error after {len(text)} characters")


check("stream_error", run)
