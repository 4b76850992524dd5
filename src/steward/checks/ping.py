"""``ping``: round-trip time and loss, by ICMP echo when the process may send it, else by
timing TCP connects. The result message always names the method used, because a TCP
"ping" proves less (one port's listener or firewall answered) than an ICMP echo.

ICMP without root: Linux "ping sockets" (``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)``,
kernel 3.0+) are allowed to processes whose group is inside
``net.ipv4.ping_group_range`` (default ``1 0``, i.e. nobody; many distributions widen it).
Raw ICMP sockets need ``CAP_NET_RAW`` (root). The agent may have either or neither.
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import struct
import time
from typing import Any

from steward.checks.base import CheckFailed, CheckResult, CheckSpec, Metric, Status, grade
from steward.checks.common import latency_params, require_order, rising
from steward.checks.registry import Check, Context, Kind, Param, Side, register

_ECHO = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}  # (request, reply) types
_PROTO = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}


def icmp_capability(family: int = socket.AF_INET) -> str | None:
    """``"datagram"`` (unprivileged ping socket), ``"raw"`` (CAP_NET_RAW) or ``None``:
    which ICMP socket this process may open, probed by opening it."""
    for kind, label in ((socket.SOCK_DGRAM, "datagram"), (socket.SOCK_RAW, "raw")):
        try:
            socket.socket(family, kind, _PROTO[family]).close()
        except OSError:
            continue
        return label
    return None


@register
class PingCheck(Check):
    name = "ping"
    summary = "Reachability, RTT and loss by ICMP echo, or by TCP connect when ICMP is denied"
    side = Side.BOTH
    target_help = "host name or IP address"
    params = (
        Param("count", Kind.INT, "probes to send", default=3, minimum=1, maximum=20),
        Param("interval", Kind.FLOAT, "seconds between probes", default=0.2, minimum=0),
        Param(
            "method",
            Kind.STR,
            "icmp, tcp, or auto (ICMP when permitted, else TCP)",
            default="auto",
            choices=("auto", "icmp", "tcp"),
        ),
        Param("tcp_port", Kind.INT, "port for TCP probes", default=80, minimum=1, maximum=65535),
        *latency_params("average round-trip time"),
        Param("warn_loss", Kind.FLOAT, "warning at this loss (%)", 20.0, minimum=0, maximum=100),
        Param("crit_loss", Kind.FLOAT, "critical at this loss (%)", 60.0, minimum=0, maximum=100),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        require_order(values, "warn_ms", "crit_ms", rising=True)
        require_order(values, "warn_loss", "crit_loss", rising=True)

    def execute(self, ctx: Context) -> CheckResult:
        p = ctx.params
        host = ctx.spec.target
        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(host, None, type=socket.SOCK_RAW)[0]
        except socket.gaierror as exc:
            return CheckResult(Status.CRITICAL, f"{host}: cannot resolve host ({exc.strerror})")
        address = str(sockaddr[0])
        capability = icmp_capability(family) if p["method"] != "tcp" else None
        if p["method"] == "icmp" and capability is None:
            raise CheckFailed(
                "ICMP is not permitted for this process: widen net.ipv4.ping_group_range "
                f"to include group {os.getgid()} or grant CAP_NET_RAW; or use method tcp"
            )
        if capability is not None:
            method = f"ICMP echo ({capability} socket)"
            rtts = _icmp_probes(family, address, capability, p, ctx)
        else:
            method = f"TCP connect to port {p['tcp_port']}"
            rtts = _tcp_probes(family, address, p, ctx)
        return _verdict(host, method, rtts, p)


def _verdict(host: str, method: str, rtts: list[float | None], p: dict[str, Any]) -> CheckResult:
    answered = [r for r in rtts if r is not None]
    loss = 100.0 * (len(rtts) - len(answered)) / len(rtts)
    loss_warn, loss_crit = rising(p["warn_loss"]), rising(p["crit_loss"])
    perfdata = [Metric("pl", round(loss, 1), "%", warn=loss_warn, crit=loss_crit, min=0, max=100)]
    head = f"{host} via {method}: {len(answered)}/{len(rtts)} replies, {loss:.0f}% loss"
    if not answered:
        return CheckResult(Status.CRITICAL, f"{head}; unreachable", perfdata=tuple(perfdata))
    avg = statistics.fmean(answered)
    rtt_warn, rtt_crit = rising(p["warn_ms"]), rising(p["crit_ms"])
    perfdata += [
        Metric("rta", round(avg, 3), "ms", warn=rtt_warn, crit=rtt_crit, min=0),
        Metric("rtmin", round(min(answered), 3), "ms", min=0),
        Metric("rtmax", round(max(answered), 3), "ms", min=0),
    ]
    status = Status.worst(grade(loss, loss_warn, loss_crit), grade(avg, rtt_warn, rtt_crit))
    message = f"{head}, rtt min/avg/max {min(answered):.3f}/{avg:.3f}/{max(answered):.3f} ms"
    return CheckResult(status, message, latency_ms=avg, perfdata=tuple(perfdata))


def _probe_budget(ctx: Context, left: int) -> float:
    """Wait for one reply at most a fair share of the remaining time (and 1 s)."""
    return min(1.0, max(0.05, (ctx.deadline - time.monotonic()) / max(left, 1)))


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp_probes(
    family: int, address: str, capability: str, p: dict[str, Any], ctx: Context
) -> list[float | None]:
    kind = socket.SOCK_DGRAM if capability == "datagram" else socket.SOCK_RAW
    request, reply = _ECHO[family]
    # Ping sockets overwrite the identifier with their local port, so replies are matched
    # on sequence number and a random payload instead of on the identifier.
    token = os.urandom(8)
    ident = os.getpid() & 0xFFFF
    rtts: list[float | None] = []
    with socket.socket(family, kind, _PROTO[family]) as sock:
        for seq in range(1, p["count"] + 1):
            payload = token + struct.pack("!H", seq)
            header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
            if family == socket.AF_INET:  # the kernel fills in ICMPv6 checksums itself
                header = struct.pack("!BBHHH", request, 0, _checksum(header + payload), ident, seq)
            sent = time.monotonic()
            sock.sendto(header + payload, (address, 0))
            rtts.append(_await_reply(sock, family, kind, reply, seq, payload, sent, ctx))
            if seq < p["count"] and time.monotonic() + p["interval"] < ctx.deadline:
                time.sleep(p["interval"])
    return rtts


def _await_reply(
    sock: socket.socket,
    family: int,
    kind: int,
    reply: int,
    seq: int,
    payload: bytes,
    sent: float,
    ctx: Context,
) -> float | None:
    until = sent + _probe_budget(ctx, int(ctx.params["count"]) - seq + 1)
    while (wait := until - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            return None
        packet = sock.recv(2048)
        if family == socket.AF_INET and kind == socket.SOCK_RAW:
            packet = packet[(packet[0] & 0x0F) * 4 :]  # raw IPv4 sockets include the IP header
        if len(packet) < 8:
            continue
        rtype, _, _, _, rseq = struct.unpack("!BBHHH", packet[:8])
        # Loopback raw sockets also see our own echo requests; skip anything not our reply.
        if rtype == reply and rseq == seq and packet[8:] == payload:
            return (time.monotonic() - sent) * 1000
    return None


def _tcp_probes(family: int, address: str, p: dict[str, Any], ctx: Context) -> list[float | None]:
    rtts: list[float | None] = []
    for index in range(p["count"]):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(_probe_budget(ctx, p["count"] - index))
            started = time.monotonic()
            try:
                sock.connect((address, p["tcp_port"]))
            except ConnectionRefusedError:
                pass  # a RST is an answer: the host is up, only the port is closed
            except OSError:
                rtts.append(None)
                continue
            rtts.append((time.monotonic() - started) * 1000)
        if index + 1 < p["count"] and time.monotonic() + p["interval"] < ctx.deadline:
            time.sleep(p["interval"])
    return rtts
