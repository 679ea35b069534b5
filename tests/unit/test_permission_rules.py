"""A route must state who may change it, and its rule must find what it reads in the path."""

from __future__ import annotations

import pytest

from app.http import permissions
from app.http.api.routing import endpoint


def test_a_route_that_changes_state_without_a_rule_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match="state who may change this"):
        endpoint("/nowhere", "POST", "write", "test")


def test_a_rule_whose_path_variable_is_missing_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match="TEAM reads one of"):
        endpoint("/nowhere/<uuid:thing_id>", "DELETE", "write", "test", allow=permissions.TEAM)


@pytest.mark.parametrize(
    ("rule", "path", "fits"),
    [
        (permissions.TEAM, "/services/<uuid:service_id>/integration-keys", True),
        (permissions.TEAM, "/schedules/<uuid:schedule_id>/rules/<uuid:rule_id>", True),
        (permissions.TEAM, "/users/<uuid:user_id>", False),
        (permissions.SELF, "/users/<uuid:user_id>/contact-methods", True),
        (permissions.TEAM_MANAGERS, "/teams/<uuid:team_id>/members", True),
        (permissions.KEY_HOLDER, "/api-keys", False),
        (permissions.ADMINS, "/teams", True),
    ],
)
def test_rules_fit_the_paths_that_carry_what_they_read(
    rule: permissions.Rule, path: str, fits: bool
) -> None:
    assert rule.fits(path) is fits
