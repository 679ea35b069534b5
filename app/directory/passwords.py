"""Password hashing for sign-in: Argon2id (argon2-cffi) in PHC string form.

The parameters are argon2-cffi's defaults (RFC 9106's low-memory profile), so they move with
the library: a stored hash made with other parameters still verifies, and `needs_rehash` says
to store a fresh one at the next successful sign-in. No SQL here: `app.directory.users` stores
the hash.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8  # characters; NIST SP 800-63B's floor for chosen passwords
MAX_LENGTH = 1024  # characters: a bound on the work one request can ask for


class WeakPassword(ValueError):
    """A password this module refuses to store; the message says why."""


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def check_acceptable(password: str) -> None:
    """Raise WeakPassword for a password too short or too long to store."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"must be at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_acceptable(password)
    return _hasher().hash(password)


def rehash(password: str) -> str:
    """A fresh hash of a password already accepted once (its length is not checked again)."""
    return _hasher().hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`. With no hash (an unknown email, a user
    without a password) a dummy hash is checked, so the answer takes as long as a real one and
    timing does not tell which accounts exist."""
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password[:MAX_LENGTH]) and bool(
            stored_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher().check_needs_rehash(stored_hash)


@cache
def _dummy_hash() -> str:
    return _hasher().hash("klaxon: no such account")
