"""Helpers shared by several check types: threshold parameters and a timed TCP connect."""

from __future__ import annotations

import socket
import time
from typing import Any

from steward.checks.base import Metric, Range, SpecError, Status, grade
from steward.checks.registry import Context, Kind, Param


def latency_params(what: str = "response time") -> tuple[Param, Param]:
    """``warn_ms``/``crit_ms``: alert when ``what`` exceeds them (milliseconds)."""
    return (
        Param("warn_ms", Kind.FLOAT, f"warning when the {what} exceeds this (ms)", minimum=0),
        Param("crit_ms", Kind.FLOAT, f"critical when the {what} exceeds this (ms)", minimum=0),
    )


def require_order(values: dict[str, Any], warn: str, crit: str, *, rising: bool) -> None:
    """Reject a warning threshold that would never fire before the critical one.

    ``rising`` thresholds (latency, counts) need warn <= crit; falling ones (free space,
    days left) need warn >= crit."""
    w, c = values.get(warn), values.get(crit)
    if w is None or c is None:
        return
    if rising and w > c:
        raise SpecError(f"params.{warn}", f"must not exceed {crit} ({c:g})")
    if not rising and w < c:
        raise SpecError(f"params.{warn}", f"must not be below {crit} ({c:g})")


def rising(value: float | None) -> Range | None:
    return None if value is None else Range.above(value)


def falling(value: float | None) -> Range | None:
    return None if value is None else Range.below(value)


def latency_metric(name: str, latency_ms: float, params: dict[str, Any]) -> tuple[Metric, Status]:
    """A millisecond metric with the ``warn_ms``/``crit_ms`` ranges, and its grade."""
    warn, crit = rising(params.get("warn_ms")), rising(params.get("crit_ms"))
    metric = Metric(name, round(latency_ms, 3), "ms", warn=warn, crit=crit, min=0)
    return metric, grade(latency_ms, warn, crit)


def connect(host: str, port: int, ctx: Context) -> tuple[socket.socket, float]:
    """Open a TCP connection within the context's deadline and return it with the connect
    time in milliseconds. Name resolution is excluded from the time (it is not the
    service's latency) but counts against the deadline. Raises ``OSError`` subclasses:
    ``socket.gaierror``, ``ConnectionRefusedError``, ``TimeoutError``, ..."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last_error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(ctx.remaining())
        started = time.monotonic()
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock, (time.monotonic() - started) * 1000
    raise last_error


def describe_os_error(exc: OSError) -> str:
    """A short human reason for a failed connect, without the errno noise."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    return exc.strerror or str(exc)
