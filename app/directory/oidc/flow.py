"""One OpenID Connect sign-in, from the authorization request to a verified ID token.

The authorization code flow with PKCE (S256): each attempt has its own `state` (ties the
callback to the browser that started it), `nonce` (ties the ID token to the attempt) and code
verifier (ties the code to this client: a code intercepted on its way back is useless without
it). The caller keeps the attempt (app.http.oidc keeps it in a signed, short-lived cookie) and
checks `state`; this module checks everything else: the token endpoint's answer, the ID token's
signature against the provider's keys, and its `iss`, `aud`, `exp`, `iat`, `nonce` and `azp`.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import structlog
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError

from app.directory.oidc.errors import NotVerified, ProviderFailed
from app.directory.oidc.provider import Provider, call, json_object
from config.settings import OidcSettings

log = structlog.get_logger(__name__)

# ID token signatures Klaxon accepts: the provider's public keys only. No `none`, and no HMAC
# (an HS256 token is keyed by the client secret, which would let a leaked secret mint tokens).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY = 60  # seconds of clock skew allowed between Klaxon and the provider on exp and iat
MAX_ID_TOKEN = 16 * 1024  # characters of an ID token considered at all
# OAuth error codes are ASCII words; anything else the provider says is not shown.
ERROR_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


@dataclass(frozen=True)
class Attempt:
    """What one sign-in must remember between its start and its callback."""

    state: str
    nonce: str
    verifier: str  # the PKCE code verifier (43 to 128 characters, RFC 7636)
    next_path: str  # where the browser goes once signed in


def new_attempt(next_path: str) -> Attempt:
    """A fresh attempt: 256-bit random state and nonce, a 64-character code verifier."""
    return Attempt(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
        next_path=next_path,
    )


def authorization_url(
    endpoint: str, settings: OidcSettings, redirect_uri: str, attempt: Attempt
) -> str:
    """Where the browser goes to sign in at the provider."""
    url: str = prepare_grant_uri(
        endpoint,
        settings.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=settings.scopes,
        state=attempt.state,
        nonce=attempt.nonce,
        code_challenge=create_s256_code_challenge(attempt.verifier),
        code_challenge_method="S256",
    )
    return url


def states_match(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.encode())


def redeem_code(
    provider: Provider, code: str, redirect_uri: str, verifier: str, deadline: float
) -> str:
    """The ID token the token endpoint gives for `code` and this attempt's verifier."""
    meta = provider.metadata(deadline)
    settings = provider.settings
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"Accept": "application/json"}
    if meta.client_auth == "client_secret_basic":
        headers["Authorization"] = basic_auth(settings.client_id, settings.client_secret or "")
    else:
        fields["client_id"] = settings.client_id
        if meta.client_auth == "client_secret_post":
            fields["client_secret"] = settings.client_secret or ""
    answer = call("POST", meta.token_endpoint, deadline, "token", fields=fields, headers=headers)
    if 400 <= answer.status < 500:
        raise NotVerified(f"the identity provider refused the sign-in ({_oauth_error(answer)})")
    if answer.status != 200:
        raise ProviderFailed(f"the identity provider's token endpoint answered {answer.status}")
    id_token = json_object(answer, "token").get("id_token")
    if not isinstance(id_token, str) or not id_token or len(id_token) > MAX_ID_TOKEN:
        raise ProviderFailed("the identity provider's token answer has no usable id_token")
    return id_token


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1: each part form-encoded, then joined and base64-encoded."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _oauth_error(answer: Any) -> str:
    try:
        code = json_object(answer, "token").get("error")
    except ProviderFailed:
        code = None
    if isinstance(code, str) and 0 < len(code) <= 64 and set(code) <= ERROR_CODE_CHARS:
        return code
    return f"HTTP {answer.status}"


def verify_id_token(
    provider: Provider, id_token: str, nonce: str, deadline: float
) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, times and nonce hold."""
    settings = provider.settings
    token = _decode(provider, id_token, deadline)
    claims = CodeIDToken(
        token.claims,
        token.header,
        options={
            "iss": {"essential": True, "value": settings.issuer},
            "aud": {"essential": True, "value": settings.client_id},
        },
        params={"nonce": nonce, "client_id": settings.client_id},
    )
    try:
        claims.validate(leeway=LEEWAY)
    except ExpiredTokenError:
        raise NotVerified("the identity provider's ID token has expired") from None
    except JoseError as exc:
        claim = getattr(exc, "claim", None) or exc.error
        log.warning("oidc_id_token_refused", reason=exc.error, claim=claim)
        raise NotVerified(f"the identity provider's ID token failed a check ({claim})") from None
    return dict(claims)


def _decode(provider: Provider, id_token: str, deadline: float) -> Any:
    """Check the signature with the provider's keys (fetched again once for an unknown key id)."""
    for refresh in (False, True):
        keys = provider.keys(deadline, refresh=refresh)
        try:
            return jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except InvalidKeyIdError:
            continue
        except (JoseError, ValueError) as exc:
            log.warning("oidc_id_token_refused", reason=getattr(exc, "error", type(exc).__name__))
            raise NotVerified("the identity provider's ID token is not validly signed") from None
    raise NotVerified("the identity provider's ID token is signed with a key it does not publish")
