"""``tcp``: is a port open, how fast does it accept, and (optionally) does it answer as
expected to a probe string."""

from __future__ import annotations

import socket
import time
from typing import Any

from steward.checks.base import CheckResult, CheckSpec, Status
from steward.checks.common import (
    connect,
    describe_os_error,
    latency_metric,
    latency_params,
    require_order,
)
from steward.checks.registry import Check, Context, Kind, Param, Side, register

MAX_READ_BYTES = 64 * 1024


@register
class TcpCheck(Check):
    name = "tcp"
    summary = "TCP port open, connect latency, optional send/expect exchange"
    side = Side.BOTH
    target_help = "host name or IP address"
    params = (
        Param("port", Kind.INT, "TCP port", required=True, minimum=1, maximum=65535),
        Param("send", Kind.STR, "text sent after connecting (use \\r\\n as the protocol needs)"),
        Param("expect", Kind.STR, "text the answer must contain (read until found or timeout)"),
        *latency_params("connect time"),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        require_order(values, "warn_ms", "crit_ms", rising=True)

    def execute(self, ctx: Context) -> CheckResult:
        host, port = ctx.spec.target, ctx.params["port"]
        try:
            sock, latency = connect(host, port, ctx)
        except OSError as exc:
            return CheckResult(Status.CRITICAL, f"{host}:{port} {describe_os_error(exc)}")
        metric, status = latency_metric("connect_time", latency, ctx.params)
        message = f"{host}:{port} open, connected in {latency:.1f} ms"
        with sock:
            if ctx.params["send"]:
                sock.sendall(ctx.params["send"].encode())
            expect = ctx.params["expect"]
            if expect:
                answer = _read_until(sock, expect.encode(), ctx)
                if expect.encode() not in answer:
                    shown = answer[:80].decode(errors="replace")
                    return CheckResult(
                        Status.CRITICAL,
                        f"{host}:{port} answered without {expect!r}: {shown!r}",
                        latency_ms=latency,
                        perfdata=(metric,),
                    )
                message += f", answer contains {expect!r}"
        return CheckResult(status, message, latency_ms=latency, perfdata=(metric,))


def _read_until(sock: socket.socket, needle: bytes, ctx: Context) -> bytes:
    """Read until ``needle`` shows up, the peer closes, the buffer cap or the deadline."""
    data = b""
    while needle not in data and len(data) < MAX_READ_BYTES:
        if ctx.deadline - time.monotonic() <= 0:
            break
        sock.settimeout(ctx.remaining())
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data
