"""Reading SMS replies: codes with an action letter either way round, carrier keywords."""

from __future__ import annotations

import pytest

from app.messages.sms_replies import Command, done, parse, twiml_message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1a", Command("act", 1, "acknowledge")),
        ("1A", Command("act", 1, "acknowledge")),
        ("1 a", Command("act", 1, "acknowledge")),
        ("a1", Command("act", 1, "acknowledge")),
        ("A 12", Command("act", 12, "acknowledge")),
        ("  7c\n", Command("act", 7, "close")),
        ("c999", Command("act", 999, "close")),
        ("3 ack", Command("act", 3, "acknowledge")),
        ("close 4", Command("act", 4, "close")),
        ("stop", Command("stop")),
        ("StopAll", Command("stop")),
        (" UNSUBSCRIBE ", Command("stop")),
        ("quit", Command("stop")),
        ("start", Command("start")),
        ("UNSTOP", Command("start")),
        ("yes", Command("start")),
        ("help", Command("help")),
        ("1", Command("unknown")),
        ("a", Command("unknown")),
        ("1x", Command("unknown")),
        ("1a please", Command("unknown")),
        ("stop it", Command("unknown")),
        ("", Command("unknown")),
    ],
)
def test_parse(body, expected):
    assert parse(body) == expected


def test_replies_are_escaped_xml_and_clip_long_summaries():
    text = done(1, 42, "acknowledge", "<b>&" + "x" * 200)
    assert len(text) < 160
    answer = twiml_message(text)
    assert "<Message>Klaxon: Acknowledged alert 1 (#42): &lt;b&gt;&amp;xxx" in answer
    assert answer.endswith("…</Message></Response>")
    assert twiml_message(None).endswith("<Response/>")
