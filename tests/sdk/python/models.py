"""models.list and models.retrieve: the fault file's models, and one read by id."""

from sdk_lib import check, client


def run() -> str:
    openai = client()
    ids = [m.id for m in openai.models.list()]
    assert ids == ["gpt-4o-mini", "o3-mini"], ids
    m = openai.models.retrieve("o3-mini")
    assert m.id == "o3-mini" and m.object == "model", m
    assert isinstance(m.owned_by, str) and isinstance(m.created, int), m
    return f"listed {', '.join(ids)}; retrieved {m.id}"


check("models", run)
