"""app.http.api.validation: pydantic's errors become one error per field, under the client's
names."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas import Time
from app.http.api.validation import FieldProblem, validation_failed


class Item(BaseModel):
    when: Time
    count: Annotated[int, Field(ge=1)] | None = None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: Time | SkipJsonSchema[None] = None
    null_first: SkipJsonSchema[None] | Time = None
    items: list[Item] | SkipJsonSchema[None] = None
    tagged: Annotated[str, Field(alias="tag-name")] = ""

    @model_validator(mode="after")
    def _together(self) -> Body:
        if self.first is not None and self.items is None:
            raise FieldProblem("items", "are needed with first")
        return self


def errors(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(data)
    failed = validation_failed(Body, caught.value)
    return [(e["field"], e["message"], e["type"]) for e in failed.details["errors"]]


TIME = "must be an RFC 3339 time with an offset, e.g. 2030-01-31T09:00:00Z"


def test_a_union_with_none_fails_once_under_the_field_name_whichever_member_comes_first() -> None:
    assert errors({"first": "x", "null_first": "y"}) == [
        ("first", TIME, "value_error"),
        ("null_first", TIME, "value_error"),
    ]


def test_nested_items_are_named_by_dotted_path_without_union_segments() -> None:
    body = {"items": [{"when": "2030-01-01T00:00:00Z", "count": 0}, {"when": 5}]}
    assert errors(body) == [
        ("items.0.count", "must be at least 1", "greater_than_equal"),
        ("items.1.when", TIME, "value_error"),
    ]


def test_a_model_validator_names_its_field_and_keeps_its_own_words() -> None:
    assert errors({"first": "2030-01-01T00:00:00Z"}) == [
        ("items", "are needed with first", "value_error")
    ]


def test_aliases_and_unknown_fields_are_named_as_sent() -> None:
    assert errors({"tag-name": 5, "colour": "red"}) == [
        ("tag-name", "must be a string", "string_type"),
        ("colour", "is not a field of this request", "extra_forbidden"),
    ]


def test_the_error_line_summarises_each_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"first": "x"})
    failed = validation_failed(Body, caught.value)
    assert (failed.status, failed.message) == (422, f"invalid request: first: {TIME}")
