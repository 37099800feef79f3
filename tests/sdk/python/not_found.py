"""A model the fault file does not list: openai.NotFoundError (404, code model_not_found) for
chat completions and models.retrieve."""

import openai

from sdk_lib import check, client


def expect_not_found(call) -> openai.NotFoundError:
    try:
        call()
    except openai.NotFoundError as e:
        assert e.status_code == 404
        assert e.code == "model_not_found", e.code
        assert e.type == "invalid_request_error", e.type
        assert "gpt-nonexistent" in e.message, e.message
        return e
    raise AssertionError("the call succeeded")


def run() -> str:
    c = client(max_retries=2)
    e = expect_not_found(
        lambda: c.chat.completions.create(model="gpt-nonexistent", messages=[{"role": "user", "content": "hi"}])
    )
    expect_not_found(lambda: c.models.retrieve("gpt-nonexistent"))
    return f"NotFoundError: {e.message}"


check("not_found", run)
