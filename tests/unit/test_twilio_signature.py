"""Twilio request signatures, checked against the example in Twilio's documentation."""

from __future__ import annotations

from app.http.twilio_signature import is_valid, signature

# https://www.twilio.com/docs/usage/security#validating-requests
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("To", "+18005551212"),  # out of order on purpose: the signature sorts them
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
]
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_matches_twilios_documented_example():
    assert signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE)


def test_any_change_breaks_it():
    changed_param = [(k, "9999" if k == "Digits" else v) for k, v in DOC_PARAMS]
    assert not is_valid(DOC_TOKEN, DOC_URL, changed_param, DOC_SIGNATURE)
    assert not is_valid(DOC_TOKEN, DOC_URL.replace("bar=2", "bar=3"), DOC_PARAMS, DOC_SIGNATURE)
    assert not is_valid(DOC_TOKEN, DOC_URL, [*DOC_PARAMS, ("Body", "1a")], DOC_SIGNATURE)
    assert not is_valid("54321", DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    assert not is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-1])


def test_missing_or_garbage_signature_is_invalid():
    assert not is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, None)
    assert not is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, "")
    assert not is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, "ü" * 28)


def test_repeated_names_contribute_every_value_in_order():
    one_order = [("A", "2"), ("A", "1"), ("B", "x")]
    assert signature("t", "https://x/", one_order) == signature("t", "https://x/A1A2Bx", [])


def test_the_tests_reference_signer_agrees_with_twilios_example():
    from tests.support.inbound import twilio_sign

    assert twilio_sign(DOC_TOKEN, DOC_URL, dict(DOC_PARAMS)) == DOC_SIGNATURE
