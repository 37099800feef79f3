"""What every check shares: a client pointed at the mock the Rust test started, and a runner
that prints what the check proved or why it failed and sets the exit code.

The base URL always comes from the test (a 127.0.0.1 port), never a default."""

import os
import sys
import traceback
from typing import Callable

import openai

MOCK_URL = os.environ.get("MOCK_URL", "")
if not MOCK_URL.startswith("http://127.0.0.1:"):
    raise SystemExit(f"MOCK_URL must be the mock's http://127.0.0.1:PORT address, got {MOCK_URL!r}")

MODEL = "gpt-4o-mini"


def client(**options: object) -> openai.OpenAI:
    """An SDK client for the mock's /v1; no retries unless a check asks for them."""
    settings: dict = {"base_url": f"{MOCK_URL}/v1", "api_key": "sk-sdk-check", "max_retries": 0, "timeout": 20.0}
    settings.update(options)
    return openai.OpenAI(**settings)


def check(name: str, body: Callable[[], str]) -> None:
    """Runs one check: `ok NAME: what it proved`, or `FAIL NAME` with the traceback and exit 1."""
    try:
        proved = body()
    except BaseException:  # an assertion, an SDK error, anything: the check failed
        print(f"FAIL {name}:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    print(f"ok {name}: {proved}")
