"""chat.completions.parse with a pydantic model: the SDK sends a strict json_schema
response_format and validates the content into the model, so `parsed` is a Person."""

from pydantic import BaseModel

from sdk_lib import MODEL, check, client


class Person(BaseModel):
    name: str
    age: int
    tags: list[str]
    retired: bool


def run() -> str:
    c = client().chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "Describe a person."}], response_format=Person
    )
    choice = c.choices[0]
    assert choice.finish_reason == "stop", choice.finish_reason
    parsed = choice.message.parsed
    assert isinstance(parsed, Person), f"parsed is a Person: {choice.message.content!r}"
    assert Person.model_validate_json(choice.message.content or "") == parsed
    return f"parsed {parsed!r}"


check("parse", run)
