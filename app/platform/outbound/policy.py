"""Which IP addresses a user-supplied URL may reach: a pure rule, no I/O.

A webhook URL is typed by a user, so without a rule anyone with a write key could make the
worker POST to the loopback admin port of a neighbour, a database on the private network or the
cloud metadata service at 169.254.169.254. Internal, link-local, unspecified, multicast and
reserved addresses are refused, including IPv6 forms that carry such an IPv4 address (IPv4-mapped,
IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo). The operator's allow-list admits
internal receivers on purpose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*pairs: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), rule) for cidr, rule in pairs)


# Refused networks and the rule each breaks, as a user reads it in "a <rule> address".
REFUSED = _networks(
    ("0.0.0.0/8", "unspecified"),  # "this network": Linux connects 0.0.0.0 to itself
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),  # RFC 6598 shared space: the provider's inside
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),  # cloud metadata services live here
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast address 255.255.255.255
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # RFC 8215 local-use NAT64 prefix: a local network's
    ("fc00::/7", "private"),  # unique local addresses
    ("fec0::/10", "private"),  # deprecated site-local addresses
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)

# IPv6 forms that carry an IPv4 address in their last 32 bits, by name.
_LOW_32_BITS = _networks(
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("64:ff9b::/96", "NAT64"),
    ("::/96", "IPv4-compatible"),  # deprecated, but some stacks still route it
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the form that carries it, if any."""
    for network, form in _LOW_32_BITS:
        if ip in network:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), form
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"  # the client's address, de-obfuscated
    return None


def rule_breaking(ip: IPAddress) -> str | None:
    """The rule `ip` breaks ("loopback", "IPv4-mapped private", …), or None if it is public."""
    for network, rule in REFUSED:
        if ip in network:
            return rule
    if isinstance(ip, ipaddress.IPv6Address):
        carried = embedded_ipv4(ip)
        if carried is not None:
            inner = rule_breaking(carried[0])
            if inner is not None:
                return f"{carried[1]} {inner}"
    return None


def with_article(rule: str) -> str:
    """ "a loopback", "an IPv4-mapped loopback", "an unspecified"."""
    return ("an " if rule[0].lower() in "aeiou" else "a ") + rule


class Refused(Exception):
    """An address the policy refuses; the message names it and the rule it breaks."""

    def __init__(self, address: IPAddress, rule: str) -> None:
        self.address = address
        self.rule = rule
        super().__init__(f"resolves to {address}, {with_article(rule)} address")


@dataclass(frozen=True)
class Policy:
    """The rule above, minus the networks the operator allows (KLAXON_WEBHOOK_ALLOW_CIDRS)."""

    allow: tuple[Network, ...] = ()

    def allows(self, ip: IPAddress) -> bool:
        """Whether `ip` (or the IPv4 address it carries) is in an allowed network."""
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            carried = embedded_ipv4(ip)
            if carried is not None:
                candidates.append(carried[0])
        return any(c.version == n.version and c in n for c in candidates for n in self.allow)

    def refusal(self, ip: IPAddress) -> str | None:
        """The rule that refuses `ip`, or None when it may be reached."""
        return None if self.allows(ip) else rule_breaking(ip)

    def vet(self, addresses: Sequence[IPAddress]) -> IPAddress:
        """The address to connect to: the first, once every one passed. Any refused address
        refuses the name, or a resolver answering public and internal addresses together could
        choose which one is reached."""
        if not addresses:
            raise ValueError("no addresses to vet")
        for ip in addresses:
            rule = self.refusal(ip)
            if rule is not None:
                raise Refused(ip, rule)
        return addresses[0]


def parse_address(text: str) -> IPAddress:
    """An IP address as a resolver or URL gives it (an IPv6 zone id, `%eth0`, is dropped)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def literal(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one (a URL's hostname, brackets already removed)."""
    try:
        return parse_address(host)
    except ValueError:
        return None


def unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    """`addresses` without repeats, in order."""
    return list(dict.fromkeys(addresses))
