"""Why an OpenID Connect sign-in did not complete, with the HTTP status the callback answers.

README, Signing in with OpenID Connect, lists them: 400 a callback that belongs to no attempt
of this browser, 401 the provider refused or its ID token failed a check, 403 the account may
not sign in, 502 the provider is unreachable or answered nonsense, 504 it did not answer in time.
"""

from __future__ import annotations


class OidcError(Exception):
    """A sign-in that stopped; `message` is for the person signing in (never a secret)."""

    status = 502
    code = "idp_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AttemptInvalid(OidcError):
    """The callback does not belong to a sign-in this browser started (or that one expired)."""

    status = 400
    code = "oidc_attempt_invalid"


class NotVerified(OidcError):
    """The provider refused the sign-in, or its ID token failed a check."""

    status = 401
    code = "oidc_not_verified"


class AccountRefused(OidcError):
    """The provider vouched for the person, but Klaxon's rules do not let them in."""

    status = 403
    code = "oidc_account_refused"


class ProviderFailed(OidcError):
    """The provider could not be reached or answered something unusable."""

    status = 502
    code = "idp_unavailable"


class ProviderTimedOut(OidcError):
    """The provider did not answer within KLAXON_OIDC_TIMEOUT."""

    status = 504
    code = "idp_timeout"
