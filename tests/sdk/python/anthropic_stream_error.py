"""An error that strikes a message stream part-way arrives as Anthropic's `event: error`: the
SDK raises an anthropic.APIStatusError carrying the error object after the text already
streamed, not an APIConnectionError, both from the raw stream and from messages.stream."""

import anthropic

from anthropic_lib import MODEL, client
from sdk_lib import check

PROMPT = [{"role": "user", "content": "Stream until it breaks."}]
# The fault file: 40 tokens, the error after the 5th; status 503 is Anthropic's overload.
PIECES_BEFORE = 5


def expect_error(pieces: list[str], e: BaseException) -> anthropic.APIStatusError:
    if isinstance(e, anthropic.APIConnectionError) or not isinstance(e, anthropic.APIStatusError):
        raise AssertionError(f"the stream's error event, not {e!r}") from e
    assert len(pieces) == PIECES_BEFORE, f"the error comes after {PIECES_BEFORE} pieces, got {len(pieces)}"
    assert e.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, e.body
    return e


def raw(c) -> anthropic.APIStatusError:
    pieces: list[str] = []
    try:
        for event in c.messages.create(model=MODEL, max_tokens=1024, messages=PROMPT, stream=True):
            if event.type == "content_block_delta":
                pieces.append(event.delta.text)
            assert event.type != "message_stop", "the stream finished"
    except Exception as e:  # judged by expect_error
        return expect_error(pieces, e)
    raise AssertionError(f"the raw stream ended without an error after {len(pieces)} pieces")


def helper(c) -> anthropic.APIStatusError:
    pieces: list[str] = []
    try:
        with c.messages.stream(model=MODEL, max_tokens=1024, messages=PROMPT) as s:
            for piece in s.text_stream:
                pieces.append(piece)
    except Exception as e:  # judged by expect_error
        return expect_error(pieces, e)
    raise AssertionError(f"messages.stream ended without an error after {len(pieces)} pieces")


def run() -> str:
    c = client()
    e = raw(c)
    helper(c)
    return f"{PIECES_BEFORE} text deltas, then {type(e).__name__}: {e.body['error']}"


check("anthropic_stream_error", run)
