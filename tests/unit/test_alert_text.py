"""Summary folding, details clipping and dedup keys: pure functions, no database."""

from __future__ import annotations

from app.alerts.store import (
    MAX_DETAILS,
    MAX_SUMMARY,
    auto_dedup_key,
    clip_details,
    fold_summary,
    user_dedup_key,
)
from app.platform.tokens import API_KEY_PREFIX, digest, new_token, parse_token, secret_matches


def test_summary_newlines_fold_to_single_spaces():
    assert fold_summary("Disk full\non db-1\r\n  (95%)") == "Disk full on db-1 (95%)"


def test_summary_is_clipped_to_1024_characters():
    assert len(fold_summary("x" * 5000)) == MAX_SUMMARY


def test_details_are_clipped_to_6_kib_without_splitting_a_character():
    clipped = clip_details("é" * 5000)  # two bytes each
    assert len(clipped.encode()) <= MAX_DETAILS
    assert clipped == "é" * (MAX_DETAILS // 2)


def test_auto_dedup_key_depends_on_summary_and_details_only():
    assert auto_dedup_key("a", "b") == auto_dedup_key("a", "b")
    assert auto_dedup_key("a", "b") != auto_dedup_key("a", "c")
    assert auto_dedup_key("ab", "") != auto_dedup_key("a", "b")
    assert auto_dedup_key("a", "b").startswith("auto:1:")


def test_user_dedup_keys_cannot_collide_with_auto_keys():
    assert user_dedup_key(auto_dedup_key("a", "b")) != auto_dedup_key("a", "b")


def test_tokens_round_trip_and_only_the_hash_matches():
    new = new_token(API_KEY_PREFIX)
    parsed = parse_token(API_KEY_PREFIX, new.token)
    assert parsed is not None and parsed[0] == new.id
    assert secret_matches(new.secret_hash, parsed[1])
    assert not secret_matches(new.secret_hash, parsed[1] + "x")
    assert new.secret_hash == digest(parsed[1])


def test_malformed_tokens_are_rejected():
    for token in (
        "",
        "klx",
        "klx_nothex_secret",
        "kli_" + "0" * 32 + "_s",
        "klx_" + "0" * 32 + "_",
    ):
        assert parse_token(API_KEY_PREFIX, token) is None


def test_control_characters_never_reach_the_database():
    assert fold_summary("a\x00b\tc\x1bd") == "a b c d"
    assert clip_details("line1\nline2\ttab\x00nul\x07bell") == "line1\nline2\ttabnulbell"
