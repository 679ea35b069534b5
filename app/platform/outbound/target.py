"""Resolve a user-supplied URL's host once, within a deadline, and vet every address it names.

The result pins the address: the caller connects to `Target.address` and nothing resolves the
name again, so a DNS answer that changes between the check and the connection (DNS rebinding)
cannot steer a request inside.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.platform.bounded import DeadlineExceeded, run_bounded
from app.platform.outbound.policy import IPAddress, Policy, literal, parse_address, unique

# host -> the addresses it names. Production uses the system resolver; a test may pass its own,
# because real DNS cannot be made to change its answer between two calls.
Resolver = Callable[[str], Sequence[str]]
DEFAULT_PORTS = {"http": 80, "https": 443}


def system_resolver(host: str) -> list[str]:
    """The addresses getaddrinfo gives for `host` (blocking, no timeout of its own)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Unresolvable(Exception):
    """The host named no address, in time or at all. `timed_out` tells the two apart."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Target:
    """Where one request goes: connect to `address`, but speak to `host` (Host, SNI, cert)."""

    scheme: str  # http | https
    host: str  # the URL's host name (or literal), brackets removed
    port: int
    address: IPAddress  # vetted: the only address this request may connect to
    path: str  # path and query, at least "/"
    host_header: str  # host[:port] as the URL spelled it, IPv6 bracketed

    @property
    def host_is_literal(self) -> bool:
        return literal(self.host) is not None


def resolve(host: str, resolver: Resolver, timeout: float) -> list[IPAddress]:
    """`host`'s addresses within `timeout` seconds (getaddrinfo has no timeout: a thread
    bounds it). A literal address is its own answer."""
    address = literal(host)
    if address is not None:
        return [address]
    try:
        answers = run_bounded(lambda: resolver(host), timeout, name="resolve")
    except DeadlineExceeded:
        raise Unresolvable(f"{host} did not resolve within {timeout:g}s", timed_out=True) from None
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; IDNA failures, UnicodeError
        raise Unresolvable(f"{host} does not resolve") from None
    try:
        addresses = unique(parse_address(answer) for answer in answers)
    except ValueError:
        raise Unresolvable(f"{host} resolved to something that is not an address") from None
    if not addresses:
        raise Unresolvable(f"{host} does not resolve")
    return addresses


def vet_url(url: str, policy: Policy, resolver: Resolver, timeout: float) -> Target:
    """The pinned target of `url`; raises Unresolvable, or policy.Refused naming the rule."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in DEFAULT_PORTS or not host:
        raise ValueError("not an http(s) URL with a host")  # the API refuses these earlier
    address = policy.vet(resolve(host, resolver, timeout))
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    shown = f"[{host}]" if ":" in host else host
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port,
        address=address,
        path=f"{path}?{parts.query}" if parts.query else path,
        host_header=f"{shown}:{parts.port}" if parts.port else shown,
    )
