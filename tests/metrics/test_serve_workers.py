"""``steward serve --workers N`` / the ``web_workers`` option (server processes for ingest).

Here rather than in tests/cli because the option exists for metrics ingest throughput.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from steward.cli import local
from steward.cli.errors import CliError
from steward.cli.main import build_parser
from steward.server import serving


def serve_args(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_workers_default_to_one(settings):
    settings.STEWARD = {k: v for k, v in settings.STEWARD.items() if k != "web_workers"}
    assert local.web_workers(serve_args()) == 1


def test_the_web_workers_option_applies_without_the_flag(settings):
    settings.STEWARD = {**settings.STEWARD, "web_workers": 3}
    assert local.web_workers(serve_args()) == 3


def test_the_flag_wins_over_the_option(settings):
    settings.STEWARD = {**settings.STEWARD, "web_workers": 3}
    assert local.web_workers(serve_args("--workers", "2")) == 2


def test_less_than_one_worker_is_refused():
    with pytest.raises(CliError, match="at least 1"):
        local.web_workers(serve_args("--workers", "0"))


@pytest.mark.parametrize(("argv", "expected"), [((), 1), (("--workers", "2"), 2)])
def test_serve_hands_the_worker_count_to_uvicorn(monkeypatch, argv, expected):
    from steward.server import serving

    calls = []
    monkeypatch.setattr(
        local, "setup_django", lambda: type("C", (), {"host": "h", "port": 1, "tls_cert": ""})()
    )
    monkeypatch.setattr(serving, "run", lambda workers, **kw: calls.append(workers))
    assert local.serve(serve_args(*argv)) == 0
    assert calls == [expected]


def accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted from ``listener`` by an asyncio server, as
    uvicorn's worker processes accept theirs."""

    async def main() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Protocol, sock=listener)
        async with server:
            host, port = listener.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            try:
                return await asyncio.wait_for(accepted, 5)
            finally:
                writer.close()

    return asyncio.run(main())


def bound(family: int = socket.AF_INET) -> socket.socket:
    """A listener bound as uvicorn binds it for several workers: ``socket.socket(family)``,
    whose Python ``proto`` is 0."""
    sock = socket.socket(family=family)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_worker_processes_accept_connections_with_nodelay():
    """With several processes uvicorn binds the socket itself, with ``proto`` 0; asyncio
    then leaves Nagle on for accepted connections, and every two-write answer (an agent
    batch's JSON) waited ~40 ms for a delayed ACK. ``serving.tcp_listener`` fixes it."""
    with bound() as plain:
        plain.listen()
        # Linux copies TCP_NODELAY from the listener: clear it to see asyncio's choice.
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        assert accepted_nodelay(plain) == 0  # the trap this guards against
    listener = serving.tcp_listener(bound())
    with listener:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.get_inheritable()  # handed to the worker processes
        listener.listen()
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        assert accepted_nodelay(listener) != 0  # set by asyncio on the accepted socket
    with serving.Config(serving.APP, host="127.0.0.1", port=0).bind_socket() as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_the_listener_is_picklable_for_the_worker_processes():
    """uvicorn hands the socket to spawned processes by pickling: ``proto`` travels."""
    import multiprocessing.reduction as reduction
    import pickle

    with serving.tcp_listener(bound()) as listener:
        buffer = reduction.ForkingPickler.dumps(listener)
        with pickle.loads(buffer) as copy:  # noqa: S301 - bytes pickled just above
            assert copy.proto == socket.IPPROTO_TCP
