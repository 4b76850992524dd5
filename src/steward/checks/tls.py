"""``tls``: a server certificate's days to expiry, trust chain and hostname match."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime
from typing import Any

from steward.checks._x509 import matches_hostname, parse_certificate
from steward.checks.base import CheckResult, CheckSpec, Metric, Status, grade
from steward.checks.common import connect, describe_os_error, falling, require_order
from steward.checks.registry import Check, Context, Kind, Param, Side, register


@register
class TlsCheck(Check):
    name = "tls"
    summary = "TLS certificate: days to expiry, chain verification, hostname match"
    side = Side.BOTH
    target_help = "host name or IP address of the TLS server"
    params = (
        Param("port", Kind.INT, "TCP port", default=443, minimum=1, maximum=65535),
        Param("server_name", Kind.STR, "name sent as SNI and matched; default: the target"),
        Param("warn_days", Kind.FLOAT, "warning when fewer days remain", default=30.0, minimum=0),
        Param("crit_days", Kind.FLOAT, "critical when fewer days remain", default=7.0, minimum=0),
        Param("verify_chain", Kind.BOOL, "require a chain to a trusted CA", default=True),
        Param("verify_hostname", Kind.BOOL, "require the name in subjectAltName", default=True),
        Param("ca_file", Kind.STR, "PEM CA bundle to trust instead of the system store"),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        require_order(values, "warn_days", "crit_days", rising=False)

    def execute(self, ctx: Context) -> CheckResult:
        p = ctx.params
        host, port = ctx.spec.target, p["port"]
        name = p["server_name"] or host
        trust_error = None
        if p["verify_chain"]:
            verifying = ssl.create_default_context(cafile=p["ca_file"])
            # Hostname matching is done below on the parsed certificate so that a wrong
            # name and an untrusted chain are reported as two distinct reasons.
            verifying.check_hostname = False
            try:
                der, latency = _handshake(host, port, name, verifying, ctx)
            except ssl.SSLCertVerificationError as exc:
                trust_error = exc.verify_message or str(exc)
            except OSError as exc:
                return CheckResult(Status.CRITICAL, f"{host}:{port} {_reason(exc)}")
        if trust_error is not None or not p["verify_chain"]:
            unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            try:
                der, latency = _handshake(host, port, name, unverified, ctx)
            except OSError as exc:
                return CheckResult(Status.CRITICAL, f"{host}:{port} {_reason(exc)}")

        cert = parse_certificate(der)
        now = datetime.now(UTC)
        days_left = (cert.not_after - now).total_seconds() / 86400
        warn, crit = falling(p["warn_days"]), falling(p["crit_days"])
        perfdata = (
            Metric("days_left", round(days_left, 2), "", warn=warn, crit=crit),
            Metric("handshake_time", round(latency, 3), "ms", min=0),
        )
        facts = (
            f"subject {cert.subject}; issuer {cert.issuer}; "
            f"not after {cert.not_after:%Y-%m-%d %H:%M:%S} UTC"
        )
        problems: list[tuple[Status, str]] = []
        if days_left < 0:
            problems.append((Status.CRITICAL, f"expired {-days_left:.1f} days ago"))
        elif now < cert.not_before:
            problems.append((Status.CRITICAL, "not valid yet"))
        else:
            status = grade(days_left, warn, crit)
            problems.append((status, f"expires in {days_left:.1f} days"))
        if trust_error is not None:
            problems.append((Status.CRITICAL, f"not trusted: {trust_error}"))
        if p["verify_hostname"] and not matches_hostname(cert, name):
            names = ", ".join((*cert.dns_names, *cert.ip_addresses)) or "none"
            problems.append((Status.CRITICAL, f"does not match {name} (names: {names})"))
        status = Status.worst(*(s for s, _ in problems))
        text = "; ".join(m for _, m in problems)
        return CheckResult(
            status, f"certificate {text}; {facts}", latency_ms=latency, perfdata=perfdata
        )


def _handshake(
    host: str, port: int, name: str, context: ssl.SSLContext, ctx: Context
) -> tuple[bytes, float]:
    """Connect, complete a TLS handshake with ``context`` and return the peer's DER
    certificate with the connect-plus-handshake time (ms)."""
    sock, latency = connect(host, port, ctx)
    started = time.monotonic()
    with context.wrap_socket(sock, server_hostname=name) as tls:
        der = tls.getpeercert(binary_form=True)
    latency += (time.monotonic() - started) * 1000
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der, latency


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    return describe_os_error(exc)
