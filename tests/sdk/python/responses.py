"""responses.create, plain and streamed: output_text of the plain answer, and in the stream the
text deltas concatenated equal output_text.done's text and the completed response's."""

from sdk_lib import MODEL, check, client


def run() -> str:
    openai = client()
    r = openai.responses.create(model=MODEL, input="Tell me about outages.")
    assert r.object == "response" and r.id.startswith("resp_"), (r.object, r.id)
    assert r.status == "completed", r.status
    assert r.output_text, r.output
    assert r.usage is not None and r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens

    types, deltas, done, completed, last = [], "", None, None, -1
    for event in openai.responses.create(model=MODEL, input="Stream about limits.", stream=True):
        types.append(event.type)
        assert event.sequence_number > last, f"sequence_number grows at {event.type}"
        last = event.sequence_number
        if event.type == "response.output_text.delta":
            deltas += event.delta
        elif event.type == "response.output_text.done":
            done = event.text
        elif event.type == "response.completed":
            completed = event.response
    assert types[0] == "response.created" and types[-1] == "response.completed", types
    assert deltas and done == deltas, (deltas, done)
    assert completed is not None and completed.status == "completed"
    assert completed.output_text == deltas, "the completed response has the concatenated deltas"
    return f"plain {len(r.output_text)} characters; stream {len(types)} events, {len(deltas)} characters"


check("responses", run)
