"""JSON from strangers: decoded in linear time, with its nesting depth capped.

Python's decoder recurses once per level, so a body of 256 KiB of `[` costs a RecursionError
deep in C and, below the interpreter's recursion limit, a value every later walk must recurse
through too. No payload Klaxon reads is nested more than a few levels (Alertmanager's is four,
Slack's about seven), so anything deeper than MAX_DEPTH is refused with a 400 that names it.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # levels of arrays and objects, counting the outermost


class TooDeep(ValueError):
    """The document nests arrays/objects deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"JSON is nested more than {MAX_DEPTH} levels deep")


def loads(raw: bytes | str) -> Any:
    """`json.loads`, refusing (TooDeep) a document nested deeper than MAX_DEPTH.

    Other errors are json's own (JSONDecodeError, UnicodeDecodeError).
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep() from None
    # A document with no more openers than the limit cannot nest deeper (the common case).
    if isinstance(raw, bytes):
        openers = raw.count(b"[") + raw.count(b"{")
    else:
        openers = raw.count("[") + raw.count("{")
    if openers > MAX_DEPTH and depth_exceeds(value, MAX_DEPTH):
        raise TooDeep()
    return value


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` nests containers deeper than `limit`; iterative, linear in its size."""
    if not isinstance(value, dict | list):
        return False
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
