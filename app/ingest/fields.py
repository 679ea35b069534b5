"""Typed reads from decoded JSON: a wrong type is a 400 that names the field by its path.

`null` and a missing field read as the default, as Go's encoding/json (GoAlert, Grafana,
Alertmanager) treats them.
"""

from __future__ import annotations

from typing import Any

from app.ingest.body import json_type
from app.ingest.errors import BadRequest


def string(obj: dict[str, Any], name: str, path: str = "", default: str = "") -> str:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest.field(_join(path, name), f"must be a string, not {json_type(value)}")
    return value


def optional_int(obj: dict[str, Any], name: str, path: str = "") -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BadRequest.field(_join(path, name), f"must be an integer, not {json_type(value)}")
    return int(value)


def strings(obj: dict[str, Any], name: str, path: str = "") -> dict[str, str]:
    """An object whose values are all strings (labels, annotations, tags)."""
    value = obj.get(name)
    if value is None:
        return {}
    where = _join(path, name)
    if not isinstance(value, dict):
        raise BadRequest.field(where, f"must be an object of strings, not {json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise BadRequest.field(f"{where}.{key}", f"must be a string, not {json_type(item)}")
    return value


def objects(obj: dict[str, Any], name: str, path: str = "") -> list[dict[str, Any]]:
    """An array whose entries are all objects (alerts, evalMatches)."""
    value = obj.get(name)
    if value is None:
        return []
    where = _join(path, name)
    if not isinstance(value, list):
        raise BadRequest.field(where, f"must be an array, not {json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRequest.field(f"{where}[{index}]", f"must be an object, not {json_type(item)}")
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
