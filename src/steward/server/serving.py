"""Running the ASGI application under uvicorn, one process or several (``steward serve``).

With ``workers > 1`` uvicorn binds the listening socket itself, as ``socket.socket(family)``:
a TCP socket whose Python ``proto`` is 0. The supervisor hands it to each worker process,
which accepts connections from it, and every accepted socket inherits ``proto == 0``.
asyncio sets ``TCP_NODELAY`` on a new connection only when ``proto == IPPROTO_TCP``
(``asyncio.base_events._set_nodelay``), so with several processes Nagle's algorithm
stayed on. A response sent in two writes (uvicorn sends the head and the body apart, as
for every JSON answer) then waited for the client's delayed ACK: ~40 ms per agent metrics
batch, which made two server processes ~6x slower than one (bench/ingest.py: 43k against
244k samples/s). Line protocol's 204 has no body, one write, and did not stall.

``Config.bind_socket`` here returns the same listener with ``proto = IPPROTO_TCP`` (and
``TCP_NODELAY`` on the listener, which Linux copies to accepted sockets), so the worker
processes' connections get ``TCP_NODELAY`` as a single process's do.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

APP = "steward.server.asgi:application"


def tcp_listener(sock: socket.socket) -> socket.socket:
    """``sock`` (a bound TCP listener) with ``proto = IPPROTO_TCP``: its accepted
    connections then get ``TCP_NODELAY`` from asyncio. Other sockets are returned as is."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return sock
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sock.proto == socket.IPPROTO_TCP:
        return sock
    out = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    out.set_inheritable(True)
    return out


class Config(uvicorn.Config):
    """uvicorn's configuration, binding a listener whose connections get ``TCP_NODELAY``."""

    def bind_socket(self) -> socket.socket:
        return tcp_listener(super().bind_socket())


def run(workers: int, **options: Any) -> None:
    """Serve the application as ``uvicorn.run(APP, workers=workers, **options)`` does."""
    config = Config(APP, workers=workers, **options)
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            config.load_app()
            server.run()
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        raise SystemExit(STARTUP_FAILURE)  # as uvicorn.run: the port was taken, or the app
