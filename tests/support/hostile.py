"""Adversarial request bodies, each built to a given size: what a stranger sends to wedge a
parser (long runs of blanks and controls, deep nesting, many keys, one huge line, a form with
thousands of repeated fields). Shared by the hostile-input tests and bench/hostile_mix.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
TEXT = "text/plain"


@dataclass(frozen=True)
class Shape:
    name: str
    content_type: str
    build: Callable[[int], bytes]  # size in bytes -> a body of exactly that size


def _filled(prefix: bytes, unit: bytes, suffix: bytes, size: int, pad: bytes = b" ") -> bytes:
    """prefix + unit repeated + suffix, padded with `pad` to exactly `size` bytes."""
    room = max(size - len(prefix) - len(suffix), 0)
    body = prefix + unit * (room // len(unit)) + suffix
    return body + pad * (size - len(body)) if len(body) < size else body[:size]


def _json_string_run(unit: bytes) -> Callable[[int], bytes]:
    # The `"a" + run + "b"` summary of the incident: a run no pattern may backtrack over.
    return lambda size: _filled(b'{"summary": "a', unit, b'b", "details": "x"}', size)


def _deep_arrays(size: int) -> bytes:
    return b"[" * size


def _deep_objects(size: int) -> bytes:
    depth = (size - 1) // 6
    return _filled(b'{"a":' * depth + b"1" + b"}" * depth, b" ", b"", size)


def _many_keys(size: int) -> bytes:
    count = (size - 40) // 14  # '"k0000000":""' and a comma
    pairs = b",".join(b'"k%07d":""' % i for i in range(count))
    return _filled(b'{"summary": "many keys",' + pairs, b" ", b"}", size)


def _repeated_fields(size: int) -> bytes:
    return _filled(b"summary=a", b"&meta=a%3Db", b"", size, pad=b"a")


def _form_blanks(size: int) -> bytes:
    return _filled(b"summary=a", b"%20%09", b"b", size, pad=b"a")


SHAPES: tuple[Shape, ...] = (
    Shape("spaces", JSON, _json_string_run(b" ")),
    Shape("tabs", JSON, _json_string_run(b"\\t")),
    Shape("controls", JSON, _json_string_run(b"\\u0001\\r")),
    Shape("mixture", JSON, _json_string_run(b" \\t\\n\\r\\u0000 \\u2028\\u000b")),
    Shape("newlines", JSON, _json_string_run(b"\\n \\n\\t")),
    Shape("deep_arrays", JSON, _deep_arrays),
    Shape("deep_objects", JSON, _deep_objects),
    Shape("many_keys", JSON, _many_keys),
    Shape("huge_line", TEXT, lambda size: b"x" * size),
    Shape("repeated_fields", FORM, _repeated_fields),
    Shape("form_blanks", FORM, _form_blanks),
)


def chunked(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    """`data` framed as HTTP/1.1 chunks of `size` bytes, with the final empty chunk."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
