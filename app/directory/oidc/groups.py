"""The groups claim's rule, pure: which mapped teams a person belongs to (and how), and whether
they are an admin (README, Signing in with OpenID Connect: groups, teams and the admin role).

On every sign-in, for each team named in KLAXON_OIDC_TEAM_GROUPS, the person's role is the
highest (manager over member) that any of their groups maps to, or none; memberships of teams
the mapping does not name are not touched. With KLAXON_OIDC_ADMIN_GROUPS set, a person is an
admin exactly when one of their groups is listed, and a plain user otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from config.settings import OidcTeamGroup

MAX_GROUPS = 1000  # groups in one claim: more is not a person's list but a misconfiguration
MAX_GROUP = 512  # characters of one group name
RANK = {None: 0, "member": 1, "manager": 2}


class BadGroupsClaim(ValueError):
    """The groups claim is not a string or a list of strings (of sane size)."""


def groups_in(claims: Mapping[str, Any], path: str) -> frozenset[str]:
    """The groups the claim at `path` lists (dots walk into objects: realm_access.roles). An
    absent claim lists none: the provider is the authority, so a person dropped from every group
    loses what groups gave them."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > MAX_GROUPS
        or not all(isinstance(g, str) and 0 < len(g) <= MAX_GROUP for g in value)
    ):
        raise BadGroupsClaim(f"the {path!r} claim is not a list of group names")
    return frozenset(value)


def team_roles(groups: frozenset[str], mapping: Iterable[OidcTeamGroup]) -> dict[str, str | None]:
    """Each mapped team (by lowercased name) -> the role the groups give, or None (not a member)."""
    roles: dict[str, str | None] = {}
    for entry in mapping:
        team = entry.team.lower()
        current = roles.get(team)
        given = entry.role if entry.group in groups else None
        roles[team] = given if RANK[given] > RANK[current] else current
    return roles


def role_for(groups: frozenset[str], admin_groups: tuple[str, ...], current: str) -> str:
    """The user's role: admin or user when admin groups are configured, else unchanged."""
    if not admin_groups:
        return current
    return "admin" if groups.intersection(admin_groups) else "user"
