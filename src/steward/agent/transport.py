"""HTTP/1.1 to one server over one kept-alive connection, on the standard library.

The agent used httpx, which with its dependencies was half of the agent's memory (about
17 MB of a 36 MB RSS). The agent needs little of it: one server, JSON in and out, no
redirects, no cookies, no HTTP/2. ``http.client`` and ``ssl`` cover that for about 1 MB
on top of what the agent loads anyway.

What this module promises (``AgentClient`` builds its typed errors on it):

* one connection per ``Transport``, reused across requests and reopened after a failure;
  a lock serialises the threads that share it (the runner's loop and the metrics shipper,
  or the check-results sender on its own client);
* ``timeout`` seconds for the connect (TCP and TLS handshake) and for each read or write,
  as httpx's single timeout did;
* TLS verified against the system trust store, or only the given CA bundle, hostname
  included (``ssl.create_default_context``);
* redirects are never followed: a 3xx is returned like any other answer;
* gzip/deflate response bodies are decoded (httpx did it, and a proxy or a server-side
  middleware may compress);
* ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY`` are honoured as httpx did (an HTTP proxy;
  CONNECT for https).

Every failure to get a complete answer is a ``TransportError`` (``TransportTimeout`` when
time ran out); no header value appears in an error, since one carries the credential.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class TransportError(Exception):
    """No complete answer: refused, reset, TLS failure, malformed response."""


class TransportTimeout(TransportError):
    """The connect, a write or a read took longer than the timeout."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive (an ``http.client.HTTPMessage``)
    body: bytes  # decoded from the Content-Encoding


@dataclass(frozen=True, slots=True)
class _Route:
    """Where to connect and what to put on the request line."""

    host: str
    port: int
    tunnel: tuple[str, int] | None  # CONNECT through a proxy to this (https)
    absolute_form: bool  # an http:// request through a proxy names the full URL
    proxy_authorization: str | None


def split_server_url(server_url: str) -> SplitResult:
    """The parsed URL; ``ValueError`` unless it is http(s) with a host and a valid port."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"server URL must start with http:// or https://: {server_url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError(f"server URL has an invalid port: {server_url!r}") from None
    return parts


class Transport:
    """Requests to the server at ``server_url`` (scheme, host, port and a path prefix)."""

    def __init__(
        self,
        server_url: str,
        *,
        ssl_context: ssl.SSLContext | None,
        timeout: float,
        default_headers: Mapping[str, str],
    ) -> None:
        self._url = split_server_url(server_url)
        self._https = self._url.scheme == "https"
        self._context = ssl_context
        if self._https and ssl_context is None:
            self._context = _system_context()
        self._timeout = timeout
        self._default_headers = dict(default_headers)
        self._prefix = self._url.path.rstrip("/")
        self._route = _route_for(self._url)
        if self._route.absolute_form and self._route.proxy_authorization:
            self._default_headers["Proxy-Authorization"] = self._route.proxy_authorization
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._closed = False

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """Send one request and read the whole answer (whatever its status)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the transport is closed")
            connection = self._usable_connection()
            try:
                connection.request(
                    method,
                    self._target(path),
                    body=body,
                    headers={**self._default_headers, **headers},
                )
                answer = connection.getresponse()
                raw = answer.read()
            except TimeoutError:
                self._drop_connection()
                raise TransportTimeout("no answer in time") from None
            except (OSError, http.client.HTTPException) as error:
                self._drop_connection()
                raise TransportError(_describe(error)) from None
            if answer.will_close:
                self._drop_connection()
        return Response(
            status=answer.status,
            reason=answer.reason or "",
            headers=answer.headers,
            body=_decode(raw, answer.headers.get("Content-Encoding")),
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_connection()

    def _target(self, path: str) -> str:
        target = self._prefix + path
        if self._route.absolute_form:
            return f"{self._url.scheme}://{self._url.netloc}{target}"
        return target

    def _usable_connection(self) -> http.client.HTTPConnection:
        connection = self._connection
        if (
            connection is not None
            and connection.sock is not None
            and _closed_by_peer(connection.sock)
        ):
            self._drop_connection()
            connection = None
        if connection is None:
            connection = self._connection = self._new_connection()
        return connection

    def _new_connection(self) -> http.client.HTTPConnection:
        route = self._route
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                route.host, route.port, timeout=self._timeout, context=self._context
            )
        else:
            connection = http.client.HTTPConnection(route.host, route.port, timeout=self._timeout)
        if route.tunnel is not None:
            tunnel_headers = {}
            if route.proxy_authorization:
                tunnel_headers["Proxy-Authorization"] = route.proxy_authorization
            connection.set_tunnel(route.tunnel[0], route.tunnel[1], headers=tunnel_headers)
        return connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_system_contexts: list[ssl.SSLContext] = []


def _system_context() -> ssl.SSLContext:
    """One context with the system trust store for every client: loading the store costs
    memory, and an ``SSLContext`` may be shared between connections and threads."""
    if not _system_contexts:
        _system_contexts.append(ssl.create_default_context())
    return _system_contexts[0]


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket became readable, i.e. the server closed it (or
    sent something unasked): either way it cannot carry the next request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _decode(raw: bytes, encoding: str | None) -> bytes:
    coding = (encoding or "").strip().lower()
    if coding in ("", "identity"):
        return raw
    try:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompress(raw, zlib.MAX_WBITS | 16)
        if coding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:  # raw deflate without the zlib header, as some servers send
                return zlib.decompress(raw, -zlib.MAX_WBITS)
    except zlib.error:
        raise TransportError(f"response body is not valid {coding}") from None
    raise TransportError(f"response body has an unsupported encoding: {coding}")


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {error.verify_message or error}"
    return str(error) or type(error).__name__


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _route_for(url: SplitResult) -> _Route:
    host, port = url.hostname or "", url.port or _default_port(url.scheme)
    direct = _Route(host, port, None, False, None)
    proxy = _proxy_for(url)
    if proxy is None:
        return direct
    proxy_url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if proxy_url.scheme != "http" or not proxy_url.hostname:
        raise ValueError(f"unsupported proxy (only http:// proxies are): {proxy_url.scheme}")
    authorization = None
    if proxy_url.username is not None:
        import base64

        userinfo = f"{unquote(proxy_url.username)}:{unquote(proxy_url.password or '')}"
        authorization = "Basic " + base64.b64encode(userinfo.encode()).decode("ascii")
    proxy_host, proxy_port = proxy_url.hostname, proxy_url.port or 80
    if url.scheme == "https":
        return _Route(proxy_host, proxy_port, (host, port), False, authorization)
    return _Route(proxy_host, proxy_port, None, True, authorization)


def _proxy_for(url: SplitResult) -> str | None:
    """The proxy httpx would have used for ``url`` (``trust_env``), or None.

    ``urllib.request`` reads the variables (and the registry on Windows, macOS's settings)
    but costs memory, so it is imported only when a proxy variable is set at all.
    """
    if os.name == "posix" and not any(
        os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES
    ):
        return None
    from urllib.request import getproxies

    proxies = getproxies()
    chosen = proxies.get(url.scheme) or proxies.get("all")
    if not chosen or _bypassed(url.hostname or "", url.port, proxies.get("no", "")):
        return None
    return chosen


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """NO_PROXY as httpx reads it (curl's rules): ``*`` for everything; a name matches itself
    and its subdomains (``.example.com`` only the subdomains); an entry with a scheme
    names one origin."""
    host = host.lower()
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "://" in entry:
            origin = urlsplit(entry)
            if origin.hostname == host and origin.port in (None, port):
                return True
            continue
        name = entry.strip("[]")
        if host == name or host.endswith(name if name.startswith(".") else f".{name}"):
            return True
    return False
