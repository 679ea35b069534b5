"""Which Klaxon user an OpenID Connect sign-in is, made or linked on the first one, and the
groups claim applied on every one.

1. An account already linked, by (issuer, subject), signs in as its user.
2. Otherwise the provider must have verified the email (`email_verified`): a user with that
   email (any case) is linked; failing that, a user is created if the email's domain is in
   KLAXON_OIDC_ALLOWED_DOMAINS. An unverified email could be anyone's, so it neither links nor
   creates.
3. A disabled user is refused whichever way they were found.
4. With KLAXON_OIDC_GROUPS_CLAIM set, the admin role and the mapped teams follow the claim
   (app.directory.oidc.groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from app.directory import teams, users
from app.directory.oidc import groups as group_rule
from app.directory.oidc import identities
from app.directory.oidc.errors import AccountRefused, NotVerified, ProviderFailed
from config.settings import OidcSettings

log = structlog.get_logger(__name__)

MAX_NAME = 200  # the users.name column's bound
MAX_SUBJECT = 255  # OpenID Connect Core 2: `sub` is at most 255 ASCII characters
MAX_EMAIL = 320


@dataclass(frozen=True)
class Person:
    """Who the provider says signed in, from the verified ID token's claims."""

    subject: str
    email: str | None  # None when absent or not an address
    email_verified: bool
    name: str
    groups: frozenset[str] | None  # None when no groups claim is configured


def person_from(claims: dict[str, Any], settings: OidcSettings) -> Person:
    """The person an ID token names; NotVerified without a usable `sub`."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
        raise NotVerified("the identity provider's ID token has no usable subject (sub)")
    email = _email(claims.get("email"))
    groups = None
    if settings.groups_claim is not None:
        try:
            groups = group_rule.groups_in(claims, settings.groups_claim)
        except group_rule.BadGroupsClaim as exc:
            raise ProviderFailed(f"{exc} (check KLAXON_OIDC_GROUPS_CLAIM)") from None
    verified = claims.get("email_verified")
    return Person(
        subject=subject,
        email=email,
        # Some providers (Amazon Cognito) send the boolean as a string.
        email_verified=verified is True or verified == "true",
        name=_name(claims, email),
        groups=groups,
    )


def _email(value: Any) -> str | None:
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_EMAIL:
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or not value.isprintable() or " " in value:
        return None
    return value


def _name(claims: dict[str, Any], email: str | None) -> str:
    for candidate in (claims.get("name"), claims.get("preferred_username")):
        if isinstance(candidate, str) and candidate.strip() and candidate.isprintable():
            return candidate.strip()[:MAX_NAME]
    return (email.rpartition("@")[0] if email else "")[:MAX_NAME] or "OpenID Connect user"


def user_for(
    conn: psycopg.Connection[Any], person: Person, settings: OidcSettings
) -> dict[str, Any]:
    """The user (USER_COLUMNS) this person signs in as, linked or made now, with the groups
    claim applied; AccountRefused when they may not sign in."""
    identities.lock_account(conn, settings.issuer, f"sub:{person.subject}")
    user_id = identities.linked_user(conn, settings.issuer, person.subject)
    user = users.get_user(conn, user_id) if user_id else _first_sign_in(conn, person, settings)
    assert user is not None  # the identity's foreign key cascades on delete
    if user["disabled_at"] is not None:
        log.info("oidc_sign_in_refused", reason="disabled", user_id=user["id"])
        raise AccountRefused("your Klaxon account is disabled; ask an admin to enable it")
    if person.groups is not None:
        user = apply_groups(conn, user, person.groups, settings)
    return user


def _first_sign_in(
    conn: psycopg.Connection[Any], person: Person, settings: OidcSettings
) -> dict[str, Any]:
    if person.email is None or not person.email_verified:
        log.info("oidc_sign_in_refused", reason="email_not_verified")
        raise AccountRefused(
            "your identity provider did not vouch for your email address (email_verified), so "
            "Klaxon cannot tell which account is yours; ask an admin"
        )
    email = person.email
    identities.lock_account(conn, settings.issuer, f"email:{email.lower()}")
    found = users.credentials_by_email(conn, email)
    if found is not None:
        user = {k: v for k, v in found.items() if k != "password_hash"}
        identities.link(conn, settings.issuer, person.subject, user["id"], email)
        log.info("oidc_account_linked", user_id=user["id"])
        return user
    domain = email.rpartition("@")[2].lower()
    if domain not in settings.allowed_domains:
        log.info("oidc_sign_in_refused", reason="domain_not_allowed", domain=domain)
        raise AccountRefused(
            f"Klaxon does not create accounts for {domain} addresses; ask an admin to create yours"
        )
    user = users.create_user(conn, person.name, email)
    identities.link(conn, settings.issuer, person.subject, user["id"], email)
    log.info("oidc_user_created", user_id=user["id"])
    return user


def apply_groups(
    conn: psycopg.Connection[Any],
    user: dict[str, Any],
    groups: frozenset[str],
    settings: OidcSettings,
) -> dict[str, Any]:
    """Make the user's role and mapped team memberships what their groups say."""
    role = group_rule.role_for(groups, settings.admin_groups, user["role"])
    if role != user["role"]:
        changed = users.update_user(conn, user["id"], {"role": role})
        assert changed is not None
        log.info("oidc_role_changed", user_id=user["id"], role=role)
        user = changed
    wanted = group_rule.team_roles(groups, settings.team_groups)
    team_ids = teams.team_ids_by_name(conn, wanted)
    missing = sorted(set(wanted) - set(team_ids))
    if missing:
        log.warning("oidc_mapped_team_missing", teams=missing)
    have = {team["id"]: team["role"] for team in teams.user_teams(conn, user["id"])}
    for name, team_id in team_ids.items():
        want, current = wanted[name], have.get(team_id)
        if want == current:
            continue
        if want is None:
            teams.remove_member(conn, team_id, user["id"])
        elif current is None:
            teams.add_member(conn, team_id, user["id"], want)
        else:
            teams.set_member_role(conn, team_id, user["id"], want)
        log.info("oidc_membership_changed", user_id=user["id"], team_id=team_id, role=want)
    return user
