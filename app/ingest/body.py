"""Request bodies for ingest: read with a hard cap, then decode as JSON or a form.

The body is read here, never through `request.data`/`request.form`: Werkzeug silently
truncates a chunked body that exceeds MAX_CONTENT_LENGTH, so the cap is counted on the bytes
actually read, for Content-Length and chunked bodies alike, and exceeding it is a 413 — never a
truncated payload parsed as if it were whole: app.platform.body_limits holds every route, ingest
included, to its limit on the bytes read. JSON nesting is capped (app.platform.json_input).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.wsgi import get_input_stream

from app.ingest.errors import BadRequest, UnsupportedMediaType
from app.platform import json_input
from app.platform.body_limits import LIMITS

MAX_BODY = LIMITS["ingest"]  # bytes; GoAlert's default max-request-body-bytes
MAX_FORM_PARTS = 200  # fields in a form body; a real sender uses a handful
# Encoded bytes of one urlencoded field that are decoded: more than any value ingest keeps can
# need (meta's 32 KiB in all, each byte at most three encoded ones, plus a name), so a clipped
# field still fails every check the whole one would. Percent-decoding is Python, byte by byte.
MAX_FORM_FIELD = 100 * 1024

JSON_TYPES = frozenset({"application/json", "text/json"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


@dataclass(frozen=True)
class Body:
    """The raw bytes of a request body and its media type (lower case, no parameters)."""

    raw: bytes
    mimetype: str
    options: dict[str, str]

    @property
    def is_json(self) -> bool:
        return self.mimetype in JSON_TYPES or self.mimetype.endswith("+json")

    @property
    def is_form(self) -> bool:
        return self.mimetype in FORM_TYPES

    @property
    def looks_like_json(self) -> bool:
        """No declared type, but the body is a JSON object (a sender that forgot the header)."""
        return not self.mimetype and self.raw.lstrip()[:1] == b"{"


def is_form(request: Request) -> bool:
    """Whether the request declares a form body (which may carry the credential)."""
    return request.mimetype in FORM_TYPES


def read_body(request: Request) -> Body:
    """The whole body. app.platform.body_limits has already refused a declared length over ingest's
    limit, and its counting stream raises the 413 at the first byte past it, however framed."""
    # Content-Length bodies end at their length; chunked ones at the server's framing
    # (gunicorn sets wsgi.input_terminated), both under app.platform.body_limits' count.
    stream = get_input_stream(request.environ, max_content_length=None)
    return Body(stream.read(), request.mimetype, dict(request.mimetype_params))


def decode_json_object(body: Body) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong and where."""
    if not body.raw.strip():
        raise BadRequest("request body is empty; expected a JSON object")
    try:
        value = json_input.loads(body.raw)
    except json_input.TooDeep as exc:
        raise BadRequest(f"malformed JSON: {exc}", {"max_depth": json_input.MAX_DEPTH}) from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"request body is not valid UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            {"line": exc.lineno, "column": exc.colno},
        ) from None
    if not isinstance(value, dict):
        raise BadRequest(f"request body must be a JSON object, not {json_type(value)}")
    return value


def decode_form(body: Body) -> MultiDict[str, str]:
    """The fields of an urlencoded or multipart body (uploaded files are ignored)."""
    raw = body.raw
    if body.mimetype == "application/x-www-form-urlencoded":
        # werkzeug limits multipart parts, not urlencoded fields: counted here, before decoding.
        if raw.count(b"&") >= MAX_FORM_PARTS:
            raise BadRequest(f"form body has more than {MAX_FORM_PARTS} fields")
        raw = _clip_fields(raw)
    parser = FormDataParser(
        max_form_memory_size=len(raw) + 1, max_form_parts=MAX_FORM_PARTS, silent=False
    )
    try:
        _, form, _files = parser.parse(io.BytesIO(raw), body.mimetype, len(raw), body.options)
    except ValueError as exc:  # malformed multipart framing
        raise BadRequest(f"malformed form body: {exc}") from None
    except RequestEntityTooLarge:  # what werkzeug raises for too many parts
        raise BadRequest(f"form body has more than {MAX_FORM_PARTS} fields") from None
    return form


def _clip_fields(raw: bytes) -> bytes:
    """Each `name=value` field of an urlencoded body cut to MAX_FORM_FIELD bytes (never inside
    a UTF-8 character)."""
    if len(raw) <= MAX_FORM_FIELD:
        return raw
    return b"&".join(_clip_utf8(field, MAX_FORM_FIELD) for field in raw.split(b"&"))


def _clip_utf8(data: bytes, limit: int) -> bytes:
    if len(data) <= limit:
        return data
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:  # data[cut] continues a character: back up
        cut -= 1
    return data[:cut]


def require_json(body: Body) -> dict[str, Any]:
    """For JSON-only endpoints: a JSON media type (or none, with a JSON object body) or 415."""
    if body.is_json or body.looks_like_json:
        return decode_json_object(body)
    if not body.mimetype:
        raise BadRequest("request body is empty; expected a JSON object")
    raise UnsupportedMediaType(
        f"Content-Type {body.mimetype} is not supported here; send application/json",
        {"content_type": body.mimetype, "supported": ["application/json"]},
    )


def json_type(value: object) -> str:
    """JSON's name for the type of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
