"""What an API key may do: its owner's permissions, capped by its scope and never raised by it."""

from __future__ import annotations

import pytest

from app.directory.api_keys import ApiKey, scope_cap
from app.http.auth import key_identity


@pytest.mark.parametrize(
    ("first", "second", "smaller"),
    [("read", "admin", "read"), ("admin", "write", "write"), ("write", "write", "write")],
)
def test_scope_cap_is_the_smaller_scope(first: str, second: str, smaller: str) -> None:
    assert scope_cap(first, second) == smaller


@pytest.mark.parametrize(
    ("key_scope", "role", "acts_with"),
    [
        ("admin", "user", "write"),  # a user who is no admin never gets admin from a key
        ("read", "user", "read"),
        ("admin", "admin", "admin"),
        ("write", "admin", "write"),
    ],
)
def test_a_personal_key_acts_as_its_user_within_its_scope(
    key_scope: str, role: str, acts_with: str
) -> None:
    found = key_identity(ApiKey("k", "mine", key_scope, owner_user_id="u", owner_role=role))
    assert (found.scope, found.user_id, found.team_id) == (acts_with, "u", None)
    assert found.admin is (role == "admin")


@pytest.mark.parametrize(("key_scope", "acts_with"), [("admin", "write"), ("read", "read")])
def test_a_team_key_acts_for_its_team_at_most_with_write(key_scope: str, acts_with: str) -> None:
    found = key_identity(ApiKey("k", "team", key_scope, owner_team_id="t"))
    assert (found.scope, found.user_id, found.team_id, found.admin) == (acts_with, None, "t", False)


@pytest.mark.parametrize("key_scope", ["read", "write", "admin"])
def test_a_service_key_keeps_its_scope_and_acts_as_an_admin(key_scope: str) -> None:
    found = key_identity(ApiKey("k", "old", key_scope))
    assert (found.scope, found.user_id, found.team_id, found.admin) == (key_scope, None, None, True)
