"""TCP sockets per state over netlink sock_diag (what ``ss`` uses), not /proc/net/tcp.

Reading /proc/net/tcp costs milliseconds even on an idle host: the kernel walks its whole
established-connections hash table for every page of output, and the file formats every
socket as text. A sock_diag dump (linux/inet_diag.h) returns a binary record per socket
and needs no privilege for what is counted here; measured on a 2-CPU VM: 0.3 ms of CPU
for IPv4 + IPv6 against 8.5 ms for the two /proc files. ``TcpstatCollector`` falls back
to the files where netlink is unavailable (a seccomp policy, a non-Linux test root).
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from typing import Final

NETLINK_SOCK_DIAG: Final = 4
SOCK_DIAG_BY_FAMILY: Final = 20
NLM_F_REQUEST: Final = 0x1
NLM_F_DUMP: Final = 0x300
NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
_NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid
# TCP_ESTABLISHED (1) ... TCP_CLOSING (11), and TCP_NEW_SYN_RECV (12): a request socket,
# which /proc/net/tcp shows as SYN_RECV, so it is counted as one here too.
STATE_NAMES: Final = {
    1: "established",
    2: "syn_sent",
    3: "syn_recv",
    4: "fin_wait1",
    5: "fin_wait2",
    6: "time_wait",
    7: "close",
    8: "close_wait",
    9: "last_ack",
    10: "listen",
    11: "closing",
    12: "syn_recv",
}
ALL_STATES: Final = sum(1 << state for state in STATE_NAMES)


class NetlinkError(OSError):
    """The kernel answered the dump with an error message."""


def dump_request(family: int, seq: int = 1) -> bytes:
    """An inet_diag_req_v2 for every TCP socket of ``family`` (AF_INET or AF_INET6)."""
    # family, protocol, ext, pad, states, then a zeroed inet_diag_sockid (48 bytes)
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, ALL_STATES) + bytes(48)
    header = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
    )
    return header + request


def count_states(data: bytes, counts: Counter[int]) -> bool:
    """Count the inet_diag_msg records in one netlink datagram by their ``idiag_state``
    (the second byte of the record). Returns whether the dump is complete."""
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG_HEADER.unpack_from(data, offset)
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            raise NetlinkError("sock_diag dump refused")
        if length < _NLMSG_HEADER.size:
            raise NetlinkError("malformed netlink message")
        counts[data[offset + _NLMSG_HEADER.size + 1]] += 1
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return False


def tcp_states() -> dict[str, int]:
    """Sockets per state name, IPv4 and IPv6 together, every state present (0 if none)."""
    counts: Counter[int] = Counter()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(2.0)
        families = [socket.AF_INET] + ([socket.AF_INET6] if socket.has_ipv6 else [])
        for seq, family in enumerate(families, start=1):
            sock.sendto(dump_request(family, seq), (0, 0))
            while not count_states(sock.recv(65536), counts):
                pass
    result = dict.fromkeys(STATE_NAMES.values(), 0)
    for state, count in counts.items():
        name = STATE_NAMES.get(state)
        if name is not None:
            result[name] += count
    return result
