"""What senders' text becomes before it is stored: control characters are stripped, not refused.

GoAlert sanitizes rather than rejects (validate.SanitizeText), and a monitoring system that
gets a 4xx does not retry — so a stray escape code must never cost a page. The rules:

- tab and newline are kept (details are markdown); CR, vertical tab, form feed and the Unicode
  spaces and line/paragraph separators become a plain space;
- every other C0/C1 control character (NUL included, which Postgres text cannot hold), lone
  UTF-16 surrogates (which JSON `\\ud800` escapes can produce and UTF-8 cannot encode) and the
  bidirectional overrides (U+202A-U+202E, U+2066-U+2069, used to disguise text) are dropped;
- trailing blanks on each line are trimmed, runs of blank lines collapse to one, and the text
  is stripped. Summaries are then folded to one line and clipped by the alert store.
"""

from __future__ import annotations

import re

ECHO_LIMIT = 40  # characters of a sender's bad value quoted back in an error
_TO_SPACE = re.compile("[\r\x0b\x0c\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)
_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\n|$)")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean(text: str) -> str:
    """Control characters stripped (see module doc); everything else untouched."""
    return _DROP.sub("", _TO_SPACE.sub(" ", text))


def sanitize(text: str) -> str:
    """`clean`, then trailing blanks trimmed, blank-line runs collapsed, and stripped."""
    text = _BLANK_LINES.sub("\n\n", _TRAILING_BLANKS.sub("", clean(text)))
    return text.strip()


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: object) -> str:
    """A sender's bad value for an error message: repr'd, cleaned and clipped."""
    return clip(clean(repr(value)), ECHO_LIMIT)
