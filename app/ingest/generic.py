"""GoAlert's generic API: `summary`, `details`, `action`, `dedup`, `meta` from the query, a form
body or a JSON body.

Precedence follows GoAlert: a JSON field (matched case-insensitively, as Go's encoding/json
does) over a form-body field over a query field. `meta` is either a JSON object of strings or
repeated `meta=key=value` fields (an entry without `=` is skipped, as in GoAlert); a JSON `meta`
replaces the form's. Beyond GoAlert: `action` also takes `acknowledge`/`ack` (and `trigger`);
any other action is a 400 instead of silently opening an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from app.alerts import store
from app.ingest import text
from app.ingest.body import json_type
from app.ingest.errors import BadRequest
from app.ingest.events import Action, Event

FIELDS = ("summary", "details", "action", "dedup")
ACTIONS: dict[str, Action] = {
    "": "trigger",
    "trigger": "trigger",
    "close": "close",
    "acknowledge": "acknowledge",
    "ack": "acknowledge",
}
JSON_NAMES = frozenset((*FIELDS, "meta"))
LONGEST_NAME = max(len(name) for name in JSON_NAMES)
MAX_DEDUP = 512  # characters, as GoAlert
MAX_META_KEY = 255  # characters, printable ASCII (GoAlert ValidateMetadata)
MAX_META_TOTAL = 32 * 1024  # bytes of keys plus values (GoAlert ValidateMetadata)


def parse(
    query: MultiDict[str, str], form: MultiDict[str, str], body: Mapping[str, Any] | None
) -> Event:
    """The event a generic request describes, or a 400 naming the field that is wrong."""
    values = {name: _first(form, name, _first(query, name, "")) for name in FIELDS}
    meta = _form_meta(form.getlist("meta") if "meta" in form else query.getlist("meta"))
    if body is not None:
        body = _case_insensitive(body)
        values.update(_json_fields(body))
        json_meta = _json_meta(body.get("meta"))
        if json_meta is not None:
            meta = json_meta
    return _event(values, meta)


def _event(values: dict[str, str], meta: dict[str, str]) -> Event:
    action = _action(values["action"])
    summary = text.sanitize(values["summary"], store.MAX_SUMMARY)
    details = text.sanitize(values["details"])
    # One character more than is kept, so a longer key is still marked as cut (as it always was).
    dedup = text.clip(text.sanitize(values["dedup"], MAX_DEDUP + 1), MAX_DEDUP) or None
    if not store.fold_summary(summary):
        if action == "trigger":
            raise BadRequest.field("summary", "is required and must not be blank")
        if dedup is None:
            raise BadRequest(
                f"to {action} an alert give its dedup key, or the summary (and details) "
                "it was raised with",
                {"field": "summary"},
            )
    return Event(action, summary, details, dedup, _checked_meta(meta))


def _first(values: MultiDict[str, str], name: str, default: str) -> str:
    """MultiDict.get without its cost: a missing key there raises (and builds) a 400 error."""
    return values[name] if name in values else default  # noqa: SIM401 (see docstring)


def _action(raw: str) -> Action:
    action = ACTIONS.get(raw.strip().lower())
    if action is None:
        raise BadRequest.field(
            "action", f"must be close, acknowledge (or ack) or trigger, not {text.quoted(raw)}"
        )
    return action


def _case_insensitive(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields this API reads, each found as Go's encoding/json would: exact name first,
    then the first key that matches it case-insensitively. One pass over the keys, however
    many a body has."""
    found = {name: body[name] for name in (*FIELDS, "meta") if name in body}
    if len(found) < len(FIELDS) + 1:
        for key, value in body.items():
            if len(key) > LONGEST_NAME:
                continue  # cheaper than lowering every key of a body with thousands
            lowered = key.lower()
            if lowered in JSON_NAMES and lowered not in found:
                found[lowered] = value
    return found


def _json_fields(body: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name in FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadRequest.field(name, f"must be a string, not {json_type(value)}")
        found[name] = value
    return found


def _form_meta(pairs: list[str]) -> dict[str, str]:
    meta = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if sep:
            meta[key] = value
    return meta


def _json_meta(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest.field("meta", f"must be an object of strings, not {json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise BadRequest.field(f"meta.{key}", f"must be a string, not {json_type(item)}")
    return dict(value)


def _checked_meta(meta: dict[str, str]) -> dict[str, str]:
    """GoAlert's metadata rules (printable ASCII keys, 32 KiB in all); values cleaned."""
    checked = {}
    for key, value in meta.items():
        if not 1 <= len(key) <= MAX_META_KEY or not all(" " <= c <= "~" for c in key):
            raise BadRequest.field(
                "meta",
                f"keys must be 1-{MAX_META_KEY} printable ASCII characters",
                key=text.quoted(key),
            )
        checked[key] = text.clean(value)
    if sum(len(k) + len(v.encode()) for k, v in checked.items()) > MAX_META_TOTAL:
        raise BadRequest.field("meta", f"must not exceed {MAX_META_TOTAL // 1024} KiB in total")
    return checked
