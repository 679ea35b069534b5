"""What an inbound SMS asks for, and the words Klaxon answers with (no I/O here).

Replies name an alert by its per-number reply code (app.messages.reply_codes) and an action
letter, either way round and with or without a space: `1a`, `1A`, `1 a`, `a1` acknowledge the
alert sent as code 1; `1c` closes it (GoAlert's scheme). Carrier keywords (STOP, START, HELP
and their synonyms) are whole-message, case-insensitive, as carriers match them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Twilio's opt-out and opt-in keywords: Twilio blocks a number that sent one of the first set,
# so Klaxon must stop trying it too (and resume on the second).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_ACTIONS = {"a": "acknowledge", "ack": "acknowledge", "c": "close", "close": "close"}
_REPLY = re.compile(
    r"(?P<code>\d{1,4})\s*(?P<act>ack|close|a|c)|(?P<act2>ack|close|a|c)\s*(?P<code2>\d{1,4})"
)
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
SUMMARY_CHARS = 80  # of an alert's summary quoted back in a reply (an SMS segment is 160)

EXAMPLE = "Reply e.g. 1a to acknowledge or 1c to close alert 1."
HELP_TEXT = (
    "Klaxon on-call alerts. Each alert SMS has a code: reply with the code and a to "
    "acknowledge or c to close, e.g. 1a or 1c. Reply STOP to stop messages, START to resume."
)
UNKNOWN_NUMBER = (
    "Klaxon: this number is not set up to receive alerts. Add it as an SMS contact method in "
    "Klaxon first."
)
RESTARTED = "Klaxon: you will receive alerts on this number again. Reply STOP to stop."


@dataclass(frozen=True)
class Command:
    kind: str  # act | stop | start | help | unknown
    code: int | None = None
    action: str | None = None  # acknowledge | close (kind act)


def parse(body: str) -> Command:
    """The command an SMS body carries."""
    text = " ".join(body.split())
    word = text.upper()
    if word in STOP_WORDS:
        return Command("stop")
    if word in START_WORDS:
        return Command("start")
    if word in HELP_WORDS:
        return Command("help")
    match = _REPLY.fullmatch(text.lower())
    if match is None:
        return Command("unknown")
    code = match.group("code") or match.group("code2")
    act = match.group("act") or match.group("act2")
    return Command("act", int(code), _ACTIONS[act])


def not_understood() -> str:
    return f"Klaxon: sorry, that reply was not understood. {EXAMPLE} Reply HELP for help."


def no_such_code(code: int) -> str:
    return f"Klaxon: no alert with code {code} for this number. {EXAMPLE}"


def done(code: int, alert_id: int, action: str, summary: str) -> str:
    verb = "Acknowledged" if action == "acknowledge" else "Closed"
    return f"Klaxon: {verb} alert {code} (#{alert_id}): {_clip(summary)}"


def already(code: int, alert_id: int, status: str) -> str:
    return f"Klaxon: alert {code} (#{alert_id}) is already {status}."


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def twiml_message(text: str | None) -> str:
    """A TwiML answer that sends `text` back, or sends nothing when it is None."""
    if text is None:
        return f"{XML_DECLARATION}<Response/>"
    return f"{XML_DECLARATION}<Response><Message>{escape(text)}</Message></Response>"
