"""A small, real OpenID Connect identity provider on loopback, for sign-in tests.

It speaks discovery, an authorization endpoint that signs the test's `account` in at once and
sends the browser back with a code, a token endpoint that checks the client's credentials, the
redirect URI and the PKCE verifier against the S256 challenge (a code works once), and a JWKS
endpoint publishing the public half of its own RSA key. ID tokens are signed with that key
(joserfc). `tweak` bends one token the way a test needs (another nonce, an expired `exp`, a
foreign audience, a key it does not publish).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.fakes.recording import Answer, RecordingServer, Request

CLIENT_ID = "klaxon-test-client"
CLIENT_SECRET = "klaxon-test-secret/with:odd&chars"


@dataclass
class Account:
    """The person signed in at the provider."""

    sub: str = field(default_factory=lambda: f"sub-{secrets.token_hex(6)}")
    email: str | None = "ada@example.com"
    email_verified: Any = True
    name: str = "Ada Lovelace"
    groups: list[str] | None = None
    claims: dict[str, Any] = field(default_factory=dict)  # anything else to put in the token


@dataclass
class Tweak:
    """How the next ID tokens differ from a correct one."""

    nonce: str | None = None  # this nonce instead of the request's
    expires_in: int = 300  # seconds from now; negative: already expired
    audience: str | None = None
    issuer: str | None = None
    foreign_key: bool = False  # signed with a key the JWKS does not publish


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    account: Account


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def client_credentials(header: str) -> tuple[str, str] | None:
    """(client_id, secret) from HTTP Basic, each part form-decoded (RFC 6749 2.3.1)."""
    scheme, _, encoded = header.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return (unquote_plus(user), unquote_plus(password)) if sep else None


class FakeIdp(RecordingServer[Answer]):
    """`failure` (an Answer, e.g. hang=True) applies to every request while set;
    `token_endpoint` may point the discovery document's token endpoint elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.account = Account()
        self.tweak = Tweak()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-key-1"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "idp-key-1"})
        self.token_endpoint: str | None = None
        # How the token endpoint authenticates the client: client_secret_basic,
        # client_secret_post, or none (a public client: its client_id in the form, no secret).
        self.client_auth = "client_secret_basic"
        self.grants: dict[str, Grant] = {}
        self.token_errors: list[str] = []  # the OAuth error of each refused token request

    @property
    def issuer(self) -> str:
        return self.base_url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": self.token_endpoint or f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [self.client_auth],
        }

    def answer(self, request: Request) -> Answer:
        failure = self._injected()
        if failure is not None:
            return failure
        if request.path == "/.well-known/openid-configuration":
            return Answer(200, self.discovery())
        if request.path == "/jwks":
            return Answer(200, {"keys": [self.key.as_dict(private=False)]})
        if request.path == "/authorize":
            return self._authorize(request.query)
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        return Answer(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> Answer:
        needed = ("client_id", "redirect_uri", "state", "nonce", "code_challenge")
        if query.get("response_type") != "code" or any(not query.get(k) for k in needed):
            return Answer(400, {"error": "invalid_request"})
        if query.get("code_challenge_method") != "S256" or "openid" not in query.get("scope", ""):
            return Answer(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            query["client_id"], query["redirect_uri"], query["nonce"], query["code_challenge"],
            self.account,
        )  # fmt: skip
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return Answer(302, b"", {"Location": back})

    def _token(self, request: Request) -> Answer:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if self._client(request, form) != (
            CLIENT_ID,
            CLIENT_SECRET if self.client_auth != "none" else None,
        ):
            return self._refuse("invalid_client", 401)
        grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._refuse("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri or grant.client_id != CLIENT_ID:
            return self._refuse("invalid_grant")
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return self._refuse("invalid_grant")
        token = self.id_token(grant)
        return Answer(200, {"access_token": "at", "token_type": "Bearer", "id_token": token})

    def _client(self, request: Request, form: dict[str, str]) -> tuple[str, str | None] | None:
        """The client's id and secret, presented the one way this provider accepts."""
        header = request.headers.get("authorization")
        if self.client_auth == "client_secret_basic":
            return None if "client_secret" in form else client_credentials(header or "")
        if header is not None:
            return None
        return form.get("client_id", ""), form.get("client_secret")

    def _refuse(self, error: str, status: int = 400) -> Answer:
        self.token_errors.append(error)
        return Answer(status, {"error": error})

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        account, tweak = grant.account, self.tweak
        claims: dict[str, Any] = {
            "iss": tweak.issuer or self.issuer,
            "sub": account.sub,
            "aud": tweak.audience or grant.client_id,
            "iat": now,
            "exp": now + tweak.expires_in,
            "nonce": tweak.nonce or grant.nonce,
            "name": account.name,
            **account.claims,
        }
        if account.email is not None:
            claims["email"] = account.email
            claims["email_verified"] = account.email_verified
        if account.groups is not None:
            claims["groups"] = account.groups
        key = self.other_key if tweak.foreign_key else self.key
        return jwt.encode({"alg": "RS256", "kid": "idp-key-1"}, claims, key)
