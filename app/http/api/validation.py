"""Pydantic's validation errors as Klaxon's 422: one error per bad field, named as the client
named it, in words written for a person.

Pydantic reports where it failed inside its own validator chain. A field typed `Time | None`
fails once per union member, each under a location segment naming the member
(`since.function-after[_in_range(), …]` and `since.none: Input should be None`); a ValueError's
message gains a "Value error, " prefix; a pattern mismatch quotes the regex. None of that is the
client's business, so this module walks each error's location through the model itself, keeps
only the segments the client sent (field names or aliases, list indexes), keeps one error per
field, and words the message from the error's type.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.platform.errors import ValidationFailed

TIME_MEANING = "must be an RFC 3339 time with an offset, e.g. 2030-01-31T09:00:00Z"
TIME_OF_DAY_MEANING = "must be a time of day such as 09:00 or 17:30:00"

# Messages per pydantic error type; `{…}` are filled from the error's context.
MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "string_too_long": "must be at most {max_length} characters long",
    "string_pattern_mismatch": "is not in the expected form",  # never the regex itself
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
    "uuid_type": "must be an id: a UUID such as 0b7e4c1a-3c1d-4f6e-9a3b-2f1e8d7c6b5a",
    "uuid_parsing": "must be an id: a UUID such as 0b7e4c1a-3c1d-4f6e-9a3b-2f1e8d7c6b5a",
    "list_type": "must be a list",
    "too_long": "must have at most {max_length} items",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "none_required": "must be null",
    "time_type": TIME_OF_DAY_MEANING,
    "time_parsing": TIME_OF_DAY_MEANING,
}
# Error types about the time (date-time) a field holds.
TIME_TYPES = ("datetime_", "timezone_", "date_")


class FieldProblem(ValueError):
    """What a model validator raises to name the field at fault (its location is otherwise the
    model as a whole): `raise FieldProblem("target_id", "send target_type and target_id")`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def validation_failed(model: type[BaseModel] | None, error: ValidationError) -> ValidationFailed:
    """The 422 for `error`, raised while validating `model` (None: names are taken as given)."""
    chosen: dict[str, ErrorDetails] = {}
    for detail in error.errors(include_url=False, include_input=False):
        field = _field(model, detail)  # a union fails once per member: keep the telling one
        if field not in chosen or chosen[field]["type"] == "none_required":
            chosen[field] = detail
    for field, detail in list(chosen.items()):
        if detail["type"] == "none_required" and _explained(field, chosen):
            del chosen[field]  # the null member's complaint about a value with its own error
    problems = [
        {"field": field, "message": _message(detail), "type": detail["type"]}
        for field, detail in chosen.items()
    ]
    return ValidationFailed.of(problems)


def _explained(field: str, chosen: dict[str, ErrorDetails]) -> bool:
    """Whether another error is about something inside `field`."""
    return any(other.startswith(field + ".") for other in chosen)


def _field(model: type[BaseModel] | None, detail: ErrorDetails) -> str:
    loc = tuple(detail["loc"])
    # An unknown field's location ends in the name the client sent, which no model declares.
    unknown = loc[-1:] if detail["type"] == "extra_forbidden" else ()
    path = [*_public_path(model, loc[: len(loc) - len(unknown)]), *unknown]
    cause = (detail.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblem):
        path.append(cause.field)
    return ".".join(str(part) for part in path) or "body"


def _public_path(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[int | str]:
    """The segments of `loc` the client sent; the rest name pydantic's union members."""
    if model is None:
        return list(loc)
    path: list[int | str] = []
    shape: Any = model
    for segment in loc:
        inner = _enter(shape, segment)
        if inner is not _INTERNAL:
            path.append(segment)
            shape = inner
    return path


_INTERNAL = object()  # a location segment of pydantic's, not of the request


def _members(shape: Any) -> list[Any]:
    """The types a value of `shape` may be: Annotated unwrapped, unions flattened."""
    origin = get_origin(shape)
    if origin is Annotated:
        return _members(get_args(shape)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(shape) for member in _members(arg)]
    return [shape]


def _enter(shape: Any, segment: int | str) -> Any:
    """The type found under `segment` of a `shape` value, or _INTERNAL if it has none."""
    for member in _members(shape):
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(segment, str):
            for name, field in member.model_fields.items():
                if segment in (name, field.alias):
                    return field.annotation
        elif get_origin(member) in (list, tuple, set, frozenset) and isinstance(segment, int):
            args = get_args(member)
            return args[0] if args else Any
    return _INTERNAL


def _message(detail: ErrorDetails) -> str:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])  # our own validators' words, without pydantic's prefix
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else _chars(ctx)
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else _items(ctx)
    if kind.startswith(TIME_TYPES):
        return TIME_MEANING
    template = MESSAGES.get(kind)
    if template is None:
        return detail["msg"]
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return detail["msg"]


def _chars(ctx: dict[str, Any]) -> str:
    return f"must be at least {ctx.get('min_length')} characters long"


def _items(ctx: dict[str, Any]) -> str:
    return f"must have at least {ctx.get('min_length')} items"
