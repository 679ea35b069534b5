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

Cost: every function here runs in time linear in its input, and `sanitize` clips its input to
what can be stored before it transforms anything. A sender controls this text without any
valid key of their own, so a pattern
that backtracks — `[ \t]+(?=\n|$)` took 14 s over one run of 32,000 spaces — is a way to
wedge the web tier. No regular expression here has a quantified part followed by something
that may fail to match; line trimming uses str.rstrip, which scans each line once.
"""

from __future__ import annotations

import re

ECHO_LIMIT = 40  # characters of a sender's bad value quoted back in an error
# Characters of one field kept for sanitising: the largest text stored from one field (an
# alert's details, 6 KiB of UTF-8, so at most this many characters).
MAX_FIELD = 6 * 1024
_TO_SPACE = re.compile("[\r\x0b\x0c\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)
_BLANK_LINES = re.compile(r"\n{3,}")


def clean(text: str) -> str:
    """Control characters stripped (see module doc); everything else untouched."""
    return _DROP.sub("", _TO_SPACE.sub(" ", text))


def sanitize(text: str, limit: int = MAX_FIELD) -> str:
    """`clean`, then trailing blanks trimmed, blank-line runs collapsed, and stripped.

    Only the first `limit` characters (after leading whitespace) are considered: nothing past
    them could be stored, so nothing past them is worth a transform.
    """
    lines = clean(text.lstrip()[:limit]).split("\n")
    text = "\n".join(line.rstrip(" \t") for line in lines)
    return _BLANK_LINES.sub("\n\n", text).strip()


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: object) -> str:
    """A sender's bad value for an error message: repr'd, cleaned and clipped."""
    return clip(clean(repr(value)), ECHO_LIMIT)
