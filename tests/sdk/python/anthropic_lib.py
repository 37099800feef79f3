"""What the anthropic checks share beside sdk_lib's runner: an `anthropic.Anthropic` client
pointed at the mock the Rust test started, and the mock's `/_mock/stats`.

The base URL always comes from the test (a 127.0.0.1 port), never a default; the key is given
explicitly, so the SDK reads no credential from the environment or from disk."""

import json
import urllib.request

import anthropic

from sdk_lib import MOCK_URL

MODEL = "claude-sonnet-4-5"


def client(**options: object) -> anthropic.Anthropic:
    """An SDK client for the mock (the SDK adds /v1/messages); no retries unless asked for."""
    settings: dict = {"base_url": MOCK_URL, "api_key": "sk-ant-sdk-check", "max_retries": 0, "timeout": 20.0}
    settings.update(options)
    return anthropic.Anthropic(**settings)


def stats() -> dict:
    """`GET /_mock/stats`: what the mock saw (requests by route and status, by retry count)."""
    with urllib.request.urlopen(f"{MOCK_URL}/_mock/stats", timeout=10) as r:
        return json.load(r)
