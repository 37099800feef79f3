"""During an outage the Messages API answers 529 `overloaded_error`: messages.create and
messages.stream raise anthropic.OverloadedError (an InternalServerError), and with
max_retries=0 the SDK sends each once."""

import anthropic

from anthropic_lib import MODEL, client, stats
from sdk_lib import check

PROMPT = [{"role": "user", "content": "Are you there?"}]


def expect_overloaded(call) -> anthropic.OverloadedError:
    try:
        call()
    except anthropic.OverloadedError as e:
        assert isinstance(e, anthropic.InternalServerError), type(e).__mro__
        assert e.status_code == 529, e.status_code
        assert isinstance(e.body, dict) and e.body.get("type") == "error", e.body
        assert e.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}, e.body
        assert (e.request_id or "").startswith("req_"), e.request_id
        return e
    raise AssertionError("the call succeeded during an outage")


def stream_all() -> None:
    with client().messages.stream(model=MODEL, max_tokens=64, messages=PROMPT) as s:
        s.until_done()


def run() -> str:
    e = expect_overloaded(lambda: client().messages.create(model=MODEL, max_tokens=64, messages=PROMPT))
    expect_overloaded(stream_all)
    s = stats()
    assert s["by_route_status"]["/v1/messages"] == {"529": 2}, s["by_route_status"]
    assert s["by_retry_count"] == {"0": 2}, "max_retries=0: neither 529 was retried"
    return f"{type(e).__name__} (529 overloaded_error) for create and stream, not retried"


check("anthropic_overloaded", run)
