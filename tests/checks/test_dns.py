"""dns check: the system resolver on /etc/hosts, and dnspython against a loopback server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from steward.checks import Status
from steward.checks.dns import dnspython_available

from .conftest import check


def test_localhost_resolves_through_the_system_resolver() -> None:
    result = check("dns", "localhost", expected=["127.0.0.1"])
    assert result.status is Status.OK, result.message
    assert "system resolver" in result.message


def test_a_name_from_etc_hosts_resolves() -> None:
    names = [
        line.split()[1]
        for line in open("/etc/hosts", encoding="utf-8")  # noqa: SIM115 - short read
        if line.strip() and not line.startswith("#") and line.split()[0] == "127.0.0.1"
    ]
    if not names:
        pytest.skip("/etc/hosts has no 127.0.0.1 entry")
    assert check("dns", names[-1], expected=["127.0.0.1"]).status is Status.OK


def test_missing_expected_value_is_critical() -> None:
    result = check("dns", "localhost", expected=["10.9.8.7"])
    assert result.status is Status.CRITICAL
    assert "missing 10.9.8.7" in result.message


def test_unknown_name_is_critical() -> None:
    assert check("dns", "no-such-host.invalid").status is Status.CRITICAL


def test_record_types_beyond_addresses_need_dnspython_or_a_server() -> None:
    result = check("dns", "localhost", record_type="MX", resolver="system")
    assert result.status is Status.UNKNOWN
    assert "system resolves only A and AAAA" in result.message


@pytest.fixture
def dns_server() -> Iterator[int]:
    """A loopback UDP DNS server answering for steward.test (built with dnspython)."""
    if not dnspython_available():
        pytest.skip("dnspython is not installed")
    import dns.message
    import dns.rrset

    zone = {
        ("steward.test.", "A"): ["192.0.2.10", "192.0.2.11"],
        ("steward.test.", "MX"): ["10 mail.steward.test."],
        ("steward.test.", "TXT"): ['"v=spf1 -all"'],
        ("www.steward.test.", "CNAME"): ["steward.test."],
    }
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            response = dns.message.make_response(query)
            name, rtype = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
            if (name, rtype) in zone:
                response.answer.append(
                    dns.rrset.from_text(name, 60, "IN", rtype, *zone[(name, rtype)])
                )
            elif not any(key[0] == name for key in zone):
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join(1)
    sock.close()


@pytest.mark.parametrize(
    ("name", "rtype", "expected"),
    [
        ("steward.test", "A", ["192.0.2.10"]),
        ("steward.test", "MX", ["10 mail.steward.test"]),
        ("steward.test", "TXT", ["v=spf1 -all"]),
        ("www.steward.test", "CNAME", ["steward.test."]),
    ],
)
def test_dnspython_record_types_against_a_loopback_server(
    dns_server: int, name: str, rtype: str, expected: list[str]
) -> None:
    result = check(
        "dns", name, record_type=rtype, expected=expected, server="127.0.0.1", port=dns_server
    )
    assert result.status is Status.OK, result.message


def test_exact_match_rejects_extra_answers(dns_server: int) -> None:
    result = check(
        "dns",
        "steward.test",
        expected=["192.0.2.10"],
        exact=True,
        server="127.0.0.1",
        port=dns_server,
    )
    assert result.status is Status.CRITICAL
    assert "unexpected 192.0.2.11" in result.message


def test_nxdomain_from_the_server_is_critical(dns_server: int) -> None:
    result = check("dns", "nope.steward.test", server="127.0.0.1", port=dns_server)
    assert result.status is Status.CRITICAL and "NXDOMAIN" in result.message


def test_silent_server_is_critical_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result = check("dns", "steward.test", timeout=0.5, server="127.0.0.1", port=port)
    assert result.status is Status.CRITICAL
