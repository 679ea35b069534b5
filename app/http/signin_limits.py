"""Abuse limits on sign-in attempts (passwords, OpenID Connect callbacks) and password
changes, per client address and per account (KLAXON_LIMIT_SIGNIN_PER_ADDRESS,
KLAXON_LIMIT_SIGNIN_PER_ACCOUNT).

Every attempt counts, right or wrong, and is counted before the password is checked: past a
limit the answer is 429 whatever the password, so a guess past the limit learns nothing. The
account's key is a digest of the lowercased email, whether or not such a user exists, so the
limit does not tell which accounts exist either.
"""

from __future__ import annotations

from app.platform import ratelimit


def count_attempt(email: str) -> None:
    """Count one password check for `email` from this client; raises RateLimited past a limit."""
    count_address_attempt()
    count_account_attempt(email)


def count_address_attempt() -> None:
    """Count one sign-in attempt from this client (an OpenID Connect callback counts here
    before it calls the identity provider, and per account once the ID token names one)."""
    found = ratelimit.limiter()
    address = ratelimit.client_address()
    found.hit(found.settings.signin_per_address, "sign-in attempts from this address", address)


def count_account_attempt(email: str) -> None:
    found = ratelimit.limiter()
    account = ratelimit.destination_key("signin", email.strip().lower())
    found.hit(found.settings.signin_per_account, "sign-in attempts for this account", account)


def count_reset(email: str) -> None:
    """Count one password-reset request for `email` from this client, whether or not the
    account exists; raises RateLimited past KLAXON_LIMIT_RESET_PER_ADDRESS or _PER_ACCOUNT."""
    found = ratelimit.limiter()
    address = ratelimit.client_address()
    account = ratelimit.destination_key("password-reset", email.strip().lower())
    found.hit(found.settings.reset_per_address, "password resets from this address", address)
    found.hit(found.settings.reset_per_account, "password resets for this account", account)
