"""A tight requests-per-minute limit: once it is spent, messages.create raises
anthropic.RateLimitError (429, `rate_limit_error`, `retry-after` and the
anthropic-ratelimit-* headers), and with max_retries=0 the SDK sends it once."""

import anthropic

from anthropic_lib import MODEL, client, stats
from sdk_lib import check

LIMIT = 2
PROMPT = [{"role": "user", "content": "One more, please."}]


def run() -> str:
    c = client()
    for remaining in range(LIMIT - 1, -1, -1):
        raw = c.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=PROMPT)
        assert raw.headers["anthropic-ratelimit-requests-limit"] == str(LIMIT), raw.headers
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == str(remaining), raw.headers
        assert raw.parse().stop_reason == "end_turn"
    try:
        c.messages.create(model=MODEL, max_tokens=64, messages=PROMPT)
    except anthropic.RateLimitError as e:
        assert e.status_code == 429, e.status_code
        assert isinstance(e.body, dict) and e.body.get("type") == "error", e.body
        assert e.body["error"]["type"] == "rate_limit_error", e.body
        assert "requests per minute" in e.body["error"]["message"], e.body
        assert (e.request_id or "").startswith("req_"), e.request_id
        assert e.body.get("request_id") == e.request_id, (e.body, e.request_id)
        wait = int(e.response.headers["retry-after"])
        assert 1 <= wait <= 60, wait
        assert e.response.headers["anthropic-ratelimit-requests-remaining"] == "0", e.response.headers
    else:
        raise AssertionError(f"request {LIMIT + 1} under a limit of {LIMIT} a minute succeeded")
    s = stats()
    assert s["by_route_status"]["/v1/messages"] == {"200": LIMIT, "429": 1}, s["by_route_status"]
    assert s["by_retry_count"] == {"0": LIMIT + 1}, "max_retries=0: the 429 was not retried"
    return f"{LIMIT} answered, then RateLimitError: retry-after {wait} s, not retried"


check("anthropic_rate_limit", run)
