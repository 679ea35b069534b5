"""The outbound policy for user-supplied URLs: every refused class, the IPv6 forms that carry an
IPv4 address, the operator's allow-list, and resolving a host within a deadline."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from app.platform.outbound.policy import Policy, Refused, parse_address, rule_breaking
from app.platform.outbound.target import Unresolvable, resolve, vet_url

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("fec0::1", "private"),
        ("64:ff9b:1::a00:1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
    ],
)
def test_every_internal_class_is_refused_by_name(address, rule):
    assert rule_breaking(parse_address(address)) == rule
    with pytest.raises(Refused) as caught:
        Policy().vet([parse_address(address)])
    assert caught.value.rule == rule
    assert str(caught.value).startswith(f"resolves to {address.split('%')[0]}, a")


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("::ffff:127.0.0.1", "an IPv4-mapped loopback"),
        ("::ffff:10.1.2.3", "an IPv4-mapped private"),
        ("::ffff:169.254.169.254", "an IPv4-mapped link-local"),
        ("::ffff:100.64.0.1", "an IPv4-mapped carrier-grade NAT"),
        ("::ffff:0.0.0.0", "an IPv4-mapped unspecified"),
        ("::ffff:224.0.0.1", "an IPv4-mapped multicast"),
        ("::7f00:1", "an IPv4-compatible loopback"),
        ("::ffff:0:a9fe:a9fe", "an IPv4-translated link-local"),
        ("64:ff9b::7f00:1", "a NAT64 loopback"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 link-local"),
        ("2002:a9fe:a9fe::1", "a 6to4 link-local"),
        ("2002:c0a8:101::1", "a 6to4 private"),
        # Teredo obfuscates the client address: 80ff:fffe is 127.0.0.1 with its bits flipped.
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo loopback"),
    ],
)
def test_ipv6_forms_carrying_an_internal_ipv4_address_are_refused(address, phrase):
    assert rule_breaking(parse_address(address)) == phrase.split(" ", 1)[1]
    with pytest.raises(Refused) as caught:
        Policy().vet([parse_address(address)])
    assert str(caught.value) == f"resolves to {parse_address(address)}, {phrase} address"


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "100.63.255.255",  # just below the carrier-grade NAT block
        "100.128.0.0",  # just above it
        "172.15.255.255",
        "172.32.0.0",
        "192.0.2.10",  # documentation: not internal, nothing listens
        "2606:2800:220:1:248:1893:25c8:1946",
        "::ffff:93.184.216.34",
        "64:ff9b::808:808",  # NAT64 of a public address
        "2002:5db8:d822::1",  # 6to4 of a public address
    ],
)
def test_public_addresses_pass(address):
    ip = parse_address(address)
    assert rule_breaking(ip) is None
    assert Policy().vet([ip]) == ip


def test_the_allow_list_admits_its_networks_and_their_mapped_forms_only():
    policy = Policy(LOOPBACK)
    for address in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        assert policy.refusal(parse_address(address)) is None, address
    assert policy.refusal(parse_address("10.0.0.1")) == "private"
    assert policy.refusal(parse_address("169.254.169.254")) == "link-local"
    assert policy.refusal(parse_address("::ffff:10.0.0.1")) == "IPv4-mapped private"
    narrow = Policy((ipaddress.ip_network("10.1.0.0/16"),))
    assert narrow.refusal(parse_address("10.1.2.3")) is None
    assert narrow.refusal(parse_address("10.2.0.1")) == "private"
    assert narrow.refusal(parse_address("fd00::1")) == "private"  # an IPv6 address, IPv4 list


def test_one_internal_address_among_public_ones_refuses_the_name():
    public, inside = parse_address("93.184.216.34"), parse_address("127.0.0.1")
    with pytest.raises(Refused) as caught:
        Policy().vet([public, inside])
    assert caught.value.address == inside
    assert Policy().vet([public, parse_address("8.8.8.8")]) == public  # the first is pinned


def test_resolving_a_literal_asks_no_resolver():
    def never(host: str) -> list[str]:
        raise AssertionError(f"resolver asked for {host}")

    assert resolve("127.0.0.1", never, 1) == [parse_address("127.0.0.1")]
    assert resolve("::1", never, 1) == [parse_address("::1")]


def test_resolving_drops_repeats_and_keeps_order():
    answers = ["93.184.216.34", "8.8.8.8", "93.184.216.34"]
    assert resolve("h.test", lambda _h: answers, 1) == [
        parse_address("93.184.216.34"),
        parse_address("8.8.8.8"),
    ]


def test_a_resolver_that_never_answers_is_cut_off_at_the_deadline():
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(Unresolvable) as caught:
            resolve("slow.test", lambda _h: release.wait(30) and [], 0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 1.5
    assert caught.value.timed_out
    assert str(caught.value) == "slow.test did not resolve within 0.3s"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "does not resolve"),
        ([], "does not resolve"),
        (["not-an-address"], "resolved to something that is not an address"),
    ],
)
def test_names_that_do_not_resolve_say_so(answer, message):
    def resolver(_host: str) -> list[str]:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(Unresolvable) as caught:
        resolve("nowhere.test", resolver, 1)
    assert str(caught.value) == f"nowhere.test {message}"
    assert not caught.value.timed_out


def test_the_system_resolver_finds_localhost_on_loopback():
    from app.platform.outbound.target import system_resolver

    with pytest.raises(Refused) as caught:
        vet_url("http://localhost:8080/hook", Policy(), system_resolver, 3)
    assert caught.value.rule == "loopback"


@pytest.mark.parametrize(
    ("url", "address", "port", "path", "host_header"),
    [
        ("http://hooks.test/h", "93.184.216.34", 80, "/h", "hooks.test"),
        ("https://Hooks.Test:8443/h?k=v", "93.184.216.34", 8443, "/h?k=v", "hooks.test:8443"),
        ("https://hooks.test", "93.184.216.34", 443, "/", "hooks.test"),
        ("http://[2606:2800::1]:81/x", "2606:2800::1", 81, "/x", "[2606:2800::1]:81"),
    ],
)  # fmt: skip
def test_the_target_pins_the_vetted_address_and_keeps_the_name(
    url, address, port, path, host_header
):
    target = vet_url(url, Policy(), lambda _h: ["93.184.216.34"], 1)
    assert str(target.address) == address
    assert (target.port, target.path, target.host_header) == (port, path, host_header)
