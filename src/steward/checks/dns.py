"""``dns``: resolve a name and compare the answer with expected values.

Two resolvers, because they answer different questions. The *system* resolver
(``getaddrinfo``) is what applications on the machine see, /etc/hosts and nsswitch
included, but it only knows addresses. *dnspython* asks DNS servers directly and knows
every record type (and which server to ask), but ignores /etc/hosts. ``resolver: auto``
uses the system one for A/AAAA without an explicit server, dnspython otherwise.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
import time
from typing import Any

from steward.checks.base import CheckFailed, CheckResult, CheckSpec, SpecError, Status
from steward.checks.common import latency_metric, latency_params, require_order
from steward.checks.registry import Check, Context, Kind, Param, Side, register

# dnspython is optional (the agent runs without it, losing only CNAME/MX/TXT and custom
# servers) and imported only when such a check runs: importing it costs the agent's
# resident memory on every machine, most of which never run a DNS check.

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")


def dnspython_available() -> bool:
    return importlib.util.find_spec("dns") is not None


@register
class DnsCheck(Check):
    name = "dns"
    summary = "DNS resolution of A/AAAA/CNAME/MX/TXT records, with expected values"
    side = Side.BOTH
    target_help = "name to resolve"
    params = (
        Param("record_type", Kind.STR, "record type", default="A", choices=RECORD_TYPES),
        Param(
            "expected",
            Kind.STR_LIST,
            "values that must all be in the answer (addresses, names, 'pref host' for MX)",
            default=[],
        ),
        Param("exact", Kind.BOOL, "the answer must equal the expected set", default=False),
        Param("server", Kind.STR, "DNS server IP to ask (needs dnspython)"),
        Param("port", Kind.INT, "DNS server port", default=53, minimum=1, maximum=65535),
        Param(
            "resolver",
            Kind.STR,
            "system (getaddrinfo, honours /etc/hosts; A/AAAA only), dns (dnspython) or auto",
            default="auto",
            choices=("auto", "system", "dns"),
        ),
        *latency_params("resolution time"),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        require_order(values, "warn_ms", "crit_ms", rising=True)
        if values["server"] is not None:
            try:
                ipaddress.ip_address(values["server"])
            except ValueError:
                raise SpecError("params.server", "must be an IP address") from None
        if _uses_system(values) and values["server"] is not None:
            raise SpecError("params.server", "cannot be used with the system resolver")
        if _uses_system(values) and values["record_type"] not in ("A", "AAAA"):
            raise SpecError("params.resolver", "system resolves only A and AAAA records")

    def execute(self, ctx: Context) -> CheckResult:
        p = ctx.params
        name, rtype = ctx.spec.target, p["record_type"]
        started = time.monotonic()
        try:
            if _uses_system(p):
                answers, how = _system(name, rtype), "system resolver"
            else:
                answers, how = _dnspython(name, rtype, p, ctx), f"DNS server {p['server'] or ''}"
        except LookupError as exc:
            return CheckResult(Status.CRITICAL, f"{name} {rtype}: {exc}")
        latency = (time.monotonic() - started) * 1000
        metric, status = latency_metric("time", latency, p)
        got = sorted(set(answers))
        shown = ", ".join(got) or "(empty)"
        message = f"{name} {rtype} -> {shown} ({how.strip()}, {latency:.1f} ms)"
        expected = {_normalise(rtype, v) for v in p["expected"]}
        missing = sorted(expected - set(got))
        if missing:
            status, message = Status.CRITICAL, f"{message}; missing {', '.join(missing)}"
        elif p["exact"] and expected and expected != set(got):
            extra = ", ".join(sorted(set(got) - expected))
            status, message = Status.CRITICAL, f"{message}; unexpected {extra}"
        return CheckResult(status, message, latency_ms=latency, perfdata=(metric,))


def _uses_system(p: dict[str, Any]) -> bool:
    if p["resolver"] == "auto":
        return p["record_type"] in ("A", "AAAA") and p["server"] is None
    return p["resolver"] == "system"


def _normalise(rtype: str, value: str) -> str:
    """Answers compare as canonical text: compressed IPv6, names without the final dot."""
    value = value.strip()
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if rtype in ("CNAME", "MX"):
        return value.rstrip(".").lower()
    return value


def _system(name: str, rtype: str) -> list[str]:
    family = socket.AF_INET if rtype == "A" else socket.AF_INET6
    try:
        infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LookupError(exc.strerror) from None
    return [_normalise(rtype, str(info[4][0])) for info in infos]


def _dnspython(name: str, rtype: str, p: dict[str, Any], ctx: Context) -> list[str]:
    if not dnspython_available():
        raise CheckFailed(f"dns {rtype} checks need dnspython, which is not installed")
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=p["server"] is None)
    if p["server"] is not None:
        resolver.nameservers = [p["server"]]
        resolver.port = p["port"]
    try:
        answer = resolver.resolve(name, rtype, lifetime=ctx.remaining(), search=False)
    except dns.resolver.NXDOMAIN:
        raise LookupError("no such name (NXDOMAIN)") from None
    except dns.resolver.NoAnswer:
        return []
    except dns.exception.Timeout:
        raise LookupError("no answer from the DNS server (timed out)") from None
    except dns.exception.DNSException as exc:
        raise LookupError(str(exc)) from None
    values = []
    for record in answer:
        if rtype == "MX":
            text = f"{record.preference} {record.exchange.to_text()}"
        elif rtype == "TXT":
            text = b"".join(record.strings).decode("utf-8", errors="replace")
        else:
            text = record.to_text()
        values.append(_normalise(rtype, text))
    return values
