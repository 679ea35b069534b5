"""The identity provider as Klaxon needs it: its discovery document and its signing keys (JWKS),
fetched within the caller's deadline and kept for a few minutes.

Every call goes through app.platform.outbound.operator: the issuer is the operator's choice, and
the endpoints its discovery document names are trusted as the issuer's own, but never over http
when the issuer is https. A failed fetch is not kept: the next sign-in asks again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.directory.oidc.errors import ProviderFailed, ProviderTimedOut
from app.platform import json_input
from app.platform.outbound import operator
from config.settings import OidcSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")

DISCOVERY_PATH = "/.well-known/openid-configuration"
# Seconds a fetched document is reused: endpoints change rarely, and a rotated signing key is
# fetched at once anyway (an ID token naming an unknown key id refreshes the keys).
METADATA_TTL = 300.0
KEYS_TTL = 300.0
# Token endpoint client authentication Klaxon speaks, in order of preference.
CLIENT_AUTH = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class Metadata:
    """What discovery says, checked: the issuer is the configured one, endpoints are URLs."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    client_auth: str  # client_secret_basic, client_secret_post, or none (a public client)


class _Cached:
    """One document, reused for `ttl` seconds after a successful fetch."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = 0.0

    def get(self, fetch: Callable[[], T], refresh: bool = False) -> T:
        with self._lock:
            if not refresh and self._value is not None and time.monotonic() - self._at < self.ttl:
                return self._value
        value = fetch()  # outside the lock: a slow provider holds no other sign-in's thread
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value


class Provider:
    """One configured identity provider; its documents are cached per process."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._metadata = _Cached(METADATA_TTL)
        self._keys = _Cached(KEYS_TTL)

    def metadata(self, deadline: float) -> Metadata:
        """The provider's checked discovery document."""
        url = self.settings.issuer.rstrip("/") + DISCOVERY_PATH
        return self._metadata.get(
            lambda: self._parse_metadata(get_json(url, deadline, "discovery"))
        )

    def keys(self, deadline: float, refresh: bool = False) -> KeySet:
        """The provider's public signing keys; `refresh` fetches them again (a key id unknown
        to the cached set means the provider rotated its keys)."""
        uri = self.metadata(deadline).jwks_uri
        return self._keys.get(lambda: _parse_keys(get_json(uri, deadline, "keys")), refresh)

    def _parse_metadata(self, found: dict[str, Any]) -> Metadata:
        issuer = self.settings.issuer
        named = found.get("issuer")
        if named != issuer:
            # OpenID Connect Discovery 4.3: a document for another issuer must not be used.
            raise ProviderFailed(
                f"the identity provider's discovery names issuer {str(named)[:200]!r}, "
                f"not {issuer!r} (check KLAXON_OIDC_ISSUER)"
            )
        endpoints = {
            name: _endpoint(found, name, https=issuer.startswith("https://"))
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        }
        methods = found.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderFailed("the identity provider does not support PKCE with S256")
        return Metadata(issuer=issuer, client_auth=self._client_auth(found), **endpoints)

    def _client_auth(self, found: dict[str, Any]) -> str:
        if self.settings.client_secret is None:
            return "none"
        offered = found.get("token_endpoint_auth_methods_supported")
        if not isinstance(offered, list):
            return "client_secret_basic"  # the default OpenID Connect Discovery names
        for method in CLIENT_AUTH:
            if method in offered:
                return method
        raise ProviderFailed(
            "the identity provider offers no client authentication Klaxon speaks "
            f"({', '.join(CLIENT_AUTH)})"
        )


def _endpoint(found: dict[str, Any], name: str, https: bool) -> str:
    value = found.get(name)
    parts = urlsplit(value) if isinstance(value, str) and len(value) <= 2048 else None
    schemes = ("https",) if https else ("http", "https")
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise ProviderFailed(
            f"the identity provider's discovery has no usable {name} "
            f"({' or '.join(schemes)} URL expected)"
        )
    return str(value)


def _parse_keys(found: dict[str, Any]) -> KeySet:
    try:
        keys = KeySet.import_key_set(found)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderFailed("the identity provider's keys (jwks_uri) are not a JWK set") from None
    if not keys.keys:
        raise ProviderFailed("the identity provider's key set (jwks_uri) is empty")
    return keys


def get_json(url: str, deadline: float, what: str) -> dict[str, Any]:
    """GET `url` as a JSON object by `deadline`; ProviderFailed/ProviderTimedOut otherwise."""
    answer = call("GET", url, deadline, what, headers={"Accept": "application/json"})
    if answer.status != 200:
        raise ProviderFailed(f"the identity provider's {what} answered HTTP {answer.status}")
    return json_object(answer, what)


def call(method: str, url: str, deadline: float, what: str, **kwargs: Any) -> operator.Answer:
    """One request to the provider; unreachable and late answers become ProviderFailed and
    ProviderTimedOut, logged with the host only."""
    started = time.monotonic()
    try:
        answer = operator.request(method, url, deadline, **kwargs)
    except operator.Unreachable as exc:
        log.warning("oidc_provider_unreachable", call=what, error=str(exc), timed_out=exc.timed_out)
        if exc.timed_out:
            raise ProviderTimedOut(
                f"the identity provider ({operator.where(url)}) did not answer in time ({what})"
            ) from None
        raise ProviderFailed(f"cannot reach the identity provider ({exc}; {what})") from None
    log.info(
        "oidc_provider_called",
        call=what,
        status=answer.status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return answer


def json_object(answer: operator.Answer, what: str) -> dict[str, Any]:
    if not answer.complete:
        raise ProviderFailed(f"the identity provider's {what} answer is too large")
    try:
        found = json_input.loads(answer.data)
    except ValueError:  # json's errors, UnicodeDecodeError and TooDeep alike
        raise ProviderFailed(f"the identity provider's {what} answer is not JSON") from None
    if not isinstance(found, dict):
        raise ProviderFailed(f"the identity provider's {what} answer is not a JSON object")
    return found
