"""tcp, http, tls and ping checks against real loopback servers."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steward.checks import Status
from steward.checks.ping import icmp_capability

from .conftest import TlsServer, _Handler, check, make_certificate

# --- tcp -------------------------------------------------------------------------------


def test_tcp_open_port_is_ok_with_connect_latency(open_port: int) -> None:
    result = check("tcp", "127.0.0.1", port=open_port)
    assert result.status is Status.OK, result.message
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.perfdata[0].name == "connect_time" and result.perfdata[0].unit == "ms"


def test_tcp_closed_port_is_critical(closed_port: int) -> None:
    result = check("tcp", "127.0.0.1", port=closed_port)
    assert result.status is Status.CRITICAL
    assert "connection refused" in result.message


def test_tcp_send_expect_reads_the_answer(open_port: int) -> None:
    assert check("tcp", "127.0.0.1", port=open_port, expect="220").status is Status.OK
    echoed = check("tcp", "127.0.0.1", port=open_port, send="PING\r\n", expect="echo PING")
    assert echoed.status is Status.OK, echoed.message


def test_tcp_unexpected_answer_is_critical(open_port: int) -> None:
    result = check("tcp", "127.0.0.1", timeout=1.0, port=open_port, expect="SSH-2.0")
    assert result.status is Status.CRITICAL
    assert "220 steward test ready" in result.message


def test_tcp_latency_threshold_warns(open_port: int) -> None:
    result = check("tcp", "127.0.0.1", port=open_port, warn_ms=0.0)
    assert result.status is Status.WARNING


# --- http ------------------------------------------------------------------------------


def test_http_get_ok(http_base: str) -> None:
    result = check("http", f"{http_base}/ok", contains="steward ok", regex=r"version \d+\.\d+")
    assert result.status is Status.OK, result.message
    assert "HTTP 200" in result.message
    names = [m.name for m in result.perfdata]
    assert names == ["time", "size", "status_code"]


def test_http_unexpected_status_is_critical(http_base: str) -> None:
    result = check("http", f"{http_base}/status/503")
    assert result.status is Status.CRITICAL
    assert "503" in result.message


def test_http_expected_status_list_accepts_listed_codes(http_base: str) -> None:
    assert check("http", f"{http_base}/status/503", expected_status=[503]).status is Status.OK
    assert check("http", f"{http_base}/ok", expected_status=[201, 204]).status is Status.CRITICAL


def test_http_redirects_are_followed_only_when_asked(http_base: str) -> None:
    plain = check("http", f"{http_base}/redirect", expected_status=[200])
    assert plain.status is Status.CRITICAL and "302" in plain.message
    followed = check("http", f"{http_base}/redirect", expected_status=[200], follow_redirects=True)
    assert followed.status is Status.OK, followed.message


def test_http_body_mismatch_is_critical(http_base: str) -> None:
    assert check("http", f"{http_base}/ok", contains="nope").status is Status.CRITICAL
    assert check("http", f"{http_base}/ok", regex=r"^error").status is Status.CRITICAL


def test_http_latency_thresholds(http_base: str) -> None:
    slow = f"{http_base}/slow?150"
    assert check("http", slow, warn_ms=50.0, crit_ms=5000.0).status is Status.WARNING
    assert check("http", slow, warn_ms=10.0, crit_ms=50.0).status is Status.CRITICAL


def test_http_timeout_is_critical_and_fast(http_base: str) -> None:
    result = check("http", f"{http_base}/slow?2000", timeout=0.3)
    assert result.status is Status.CRITICAL
    assert "no response" in result.message


def test_http_head_and_post(http_base: str) -> None:
    assert check("http", f"{http_base}/ok", method="HEAD").status is Status.OK
    posted = check(
        "http", f"{http_base}/echo", method="POST", body="hello", contains="posted: hello"
    )
    assert posted.status is Status.OK, posted.message


def test_http_sends_custom_headers(http_base: str) -> None:
    result = check(
        "http", f"{http_base}/headers", headers={"X-Steward": "probe-1"}, contains="probe-1"
    )
    assert result.status is Status.OK, result.message


def test_http_closed_port_is_critical(closed_port: int) -> None:
    result = check("http", f"http://127.0.0.1:{closed_port}/")
    assert result.status is Status.CRITICAL


@pytest.fixture
def https_base(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    pem = make_certificate(tmp_path, 90)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}", pem
    server.shutdown()
    server.server_close()


def test_https_self_signed_fails_verification_unless_trusted(https_base: tuple[str, Path]) -> None:
    url, pem = https_base
    assert check("http", f"{url}/ok").status is Status.CRITICAL
    assert check("http", f"{url}/ok", verify_tls=False).status is Status.OK
    assert check("http", f"{url}/ok", ca_file=str(pem)).status is Status.OK


# --- tls -------------------------------------------------------------------------------


def test_tls_five_days_left_warns_with_default_thresholds(
    tls_server: Callable[[int], TlsServer],
) -> None:
    server = tls_server(5)
    result = check("tls", "localhost", port=server.port, ca_file=str(server.cert), crit_days=3.0)
    assert result.status is Status.WARNING, result.message
    assert "expires in 4.9" in result.message or "expires in 5.0" in result.message
    assert "subject CN=localhost, O=Steward Test" in result.message
    assert "issuer CN=localhost" in result.message and "not after" in result.message
    days = result.perfdata[0]
    assert days.name == "days_left" and 4.9 < (days.value or 0) <= 5.0


def test_tls_five_days_left_is_critical_below_crit_days(
    tls_server: Callable[[int], TlsServer],
) -> None:
    server = tls_server(5)
    result = check("tls", "localhost", port=server.port, ca_file=str(server.cert), crit_days=7.0)
    assert result.status is Status.CRITICAL


def test_tls_long_lived_trusted_certificate_is_ok(tls_server: Callable[[int], TlsServer]) -> None:
    server = tls_server(365)
    result = check("tls", "localhost", port=server.port, ca_file=str(server.cert))
    assert result.status is Status.OK, result.message
    by_ip = check("tls", "127.0.0.1", port=server.port, ca_file=str(server.cert))
    assert by_ip.status is Status.OK, by_ip.message


def test_tls_untrusted_chain_is_critical_but_still_reports_expiry(
    tls_server: Callable[[int], TlsServer],
) -> None:
    server = tls_server(365)
    result = check("tls", "localhost", port=server.port)
    assert result.status is Status.CRITICAL
    assert "not trusted: self-signed certificate" in result.message
    assert "expires in" in result.message
    relaxed = check("tls", "localhost", port=server.port, verify_chain=False)
    assert relaxed.status is Status.OK, relaxed.message


def test_tls_hostname_mismatch_is_critical(tls_server: Callable[[int], TlsServer]) -> None:
    server = tls_server(365)
    result = check(
        "tls", "127.0.0.1", port=server.port, server_name="www.example.com", verify_chain=False
    )
    assert result.status is Status.CRITICAL
    assert "does not match www.example.com (names: localhost, 127.0.0.1)" in result.message
    unchecked = check(
        "tls",
        "127.0.0.1",
        port=server.port,
        server_name="www.example.com",
        verify_chain=False,
        verify_hostname=False,
    )
    assert unchecked.status is Status.OK


def test_tls_closed_port_is_critical(closed_port: int) -> None:
    assert check("tls", "127.0.0.1", port=closed_port).status is Status.CRITICAL


def test_tls_against_plain_tcp_reports_a_handshake_failure(open_port: int) -> None:
    result = check("tls", "127.0.0.1", timeout=1.0, port=open_port, verify_chain=False)
    assert result.status is Status.CRITICAL
    assert "TLS handshake failed" in result.message or "timed out" in result.message


# --- ping ------------------------------------------------------------------------------


def _capability_probed_by_the_test() -> str | None:
    """Independent of the implementation: which ICMP socket may this process open?"""
    for kind, label in ((socket.SOCK_DGRAM, "datagram"), (socket.SOCK_RAW, "raw")):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        except OSError:
            continue
        return label
    return None


def test_ping_loopback_uses_the_method_this_process_is_allowed() -> None:
    capability = _capability_probed_by_the_test()
    assert icmp_capability() == capability
    result = check("ping", "127.0.0.1", count=3, interval=0.0, tcp_port=22)
    assert result.status is Status.OK, result.message
    if capability is None:
        assert "via TCP connect to port 22" in result.message
    else:
        assert f"via ICMP echo ({capability} socket)" in result.message
    assert "3/3 replies, 0% loss" in result.message
    assert {m.name for m in result.perfdata} == {"pl", "rta", "rtmin", "rtmax"}


def test_ping_tcp_method_counts_a_refused_port_as_an_answer(closed_port: int) -> None:
    result = check("ping", "127.0.0.1", method="tcp", tcp_port=closed_port, interval=0.0)
    assert result.status is Status.OK
    assert f"via TCP connect to port {closed_port}" in result.message


def test_ping_icmp_method_without_permission_is_unknown() -> None:
    if _capability_probed_by_the_test() is not None:
        pytest.skip("this process may send ICMP (root or ping_group_range), nothing to refuse")
    result = check("ping", "127.0.0.1", method="icmp")
    assert result.status is Status.UNKNOWN
    assert "ping_group_range" in result.message


def test_ping_unresolvable_host_is_critical() -> None:
    result = check("ping", "no-such-host.invalid", method="tcp")
    assert result.status is Status.CRITICAL


def test_ping_falls_back_to_tcp_when_icmp_is_denied(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    # The OS permission is the outermost edge: deny it as an unprivileged agent would see.
    monkeypatch.setattr("steward.checks.ping.icmp_capability", lambda family=0: None)
    result = check("ping", "127.0.0.1", tcp_port=closed_port, interval=0.0)
    assert result.status is Status.OK
    assert f"via TCP connect to port {closed_port}" in result.message
    denied = check("ping", "127.0.0.1", method="icmp")
    assert denied.status is Status.UNKNOWN and "CAP_NET_RAW" in denied.message
