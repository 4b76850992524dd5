"""Lean ASGI routes for the two requests every agent makes every 10 s, with the
middleware's guarantees: ``POST /api/v1/agent/metrics`` and ``POST /api/v1/agent/heartbeat``.

Each device posts a metrics batch and a heartbeat every 10 s. Through Django, each request
pays ~2 ms of CPU before the view runs: 12 sync middlewares behind thread hops (a thread
started and joined per request), URL resolution over the whole API, ninja's dispatch
(issue #3: more than storing a 500-sample batch costs), and a database connection opened
and closed (``CONN_MAX_AGE`` is 0 under ASGI). With 700 simulated devices the heartbeats
alone took a third of the server's CPU. These routes answer those two paths themselves and
hand every other request to Django unchanged.

They give the routes what the middleware chain gives them, in the same order, using the
same code where the code can be called on its own:

* ``RequestContextMiddleware``: request id (a sane ``X-Request-ID`` or a new one) in the
  logging context and on the response; request count and latency metrics;
* ``AgentBodyLimitMiddleware``: ``413`` for a ``Content-Length`` over ``agent_max_body``,
  before the body is read (``agentapi.middleware.body_limit_response``); the body is then
  read up to that limit + 1 byte, which is all ``bodies.read_body`` ever reads of it (and
  more than a heartbeat's body may be: Django would refuse it as this route does);
* ``CommonMiddleware``: the ``ALLOWED_HOSTS`` check (a bad ``Host`` goes to Django, which
  answers its 400) and ``Content-Length``;
* ``SecurityMiddleware``, ``XFrameOptionsMiddleware``: their response headers, by their
  own ``process_response``; ``SessionMiddleware``'s ``Vary: Cookie`` (the chain reads the
  session user on these paths). A request that carries cookies goes to Django: only there
  do sessions and CSRF cookies behave as they always have;
* ``AuditContextMiddleware``: the audit actor (anonymous, ``api``, the client address)
  until the route's authentication names the device;
* ninja: the API's exception handlers (same error JSON and statuses), its renderer;
  Django's 4xx/5xx request log (``log_response``) and its 500 answer
  (``response_for_exception``).

The metrics route does the view's work itself: its own authentication
(``agent.AgentCredential``) and ``agent.store_batch`` on an ingest thread, as the view
does. The heartbeat route runs ninja's own operation for the path (``Operation.run``:
authentication, body validation, the view, the response schema) on an ingest thread, so
every answer it gives is the one ninja gives behind the chain. The ingest threads keep
their database connections (ADR 0003). Django's ``request_started`` and
``request_finished`` signals are not sent: their receivers close the database
connections and caches of the thread they run on, and these routes use none on the event
loop. ``tests/server/test_lean_route.py`` sends the same requests both ways and compares
status, headers and body.

The routes are on only when ``MIDDLEWARE`` is the list above (``EXPECTED_MIDDLEWARE``), no
setting asks for what they do not do (SSL redirect, ``PREPEND_WWW``, disallowed user
agents), and the URLconf sends the metrics path to ``agent.agent_metrics`` (the heartbeat
route also needs the URLconf to send its path to ``agentapi.api.heartbeat``). Otherwise
every request goes through Django: slower, never different.
"""

from __future__ import annotations

import functools
import io
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.utils.log import log_response
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.operation import Operation, PathView

from steward.agentapi import api as agentapi
from steward.agentapi.middleware import body_limit_response
from steward.audit import context
from steward.metrics import agent, ingest
from steward.ops import metrics
from steward.ops.logs import request_id_var
from steward.ops.middleware import _SAFE_ID, client_address

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/api/v1/agent/metrics"
HEARTBEAT_PATH = "/api/v1/agent/heartbeat"

# The chain this route stands in for. Any other list (a middleware added or removed)
# turns the route off: it would not know what the new one guarantees.
EXPECTED_MIDDLEWARE = (
    "steward.ops.middleware.RequestContextMiddleware",
    "steward.agentapi.middleware.AgentBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "steward.audit.middleware.AuditContextMiddleware",
    "steward.accounts.middleware.TwoFactorMiddleware",
)


def _not_called(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only process_response of this middleware is used")


def why_not_lean() -> str | None:
    """Why the lean route cannot stand in for the chain here, or None when it can."""
    if tuple(settings.MIDDLEWARE) != EXPECTED_MIDDLEWARE:
        return "MIDDLEWARE differs from the chain the lean route reproduces"
    if settings.SECURE_SSL_REDIRECT or settings.PREPEND_WWW or settings.DISALLOWED_USER_AGENTS:
        return "SECURE_SSL_REDIRECT, PREPEND_WWW or DISALLOWED_USER_AGENTS is set"
    if _ninja_api() is None:
        return f"the URLconf does not send {METRICS_PATH} to agent.agent_metrics"
    return None


def _ninja_api() -> NinjaAPI | None:
    """The NinjaAPI that serves the metrics path with ``agent.agent_metrics`` (its
    exception handlers and renderer make the answers), or None."""
    operation = _operation(METRICS_PATH, agent.agent_metrics)
    return None if operation is None else operation.api


def _operation(path: str, view_func: Callable[..., Any]) -> Operation | None:
    """ninja's operation that answers ``POST path`` with ``view_func``, or None."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    # ninja's view is a closure over its PathView (ninja/operation.py, PathView.get_view).
    for cell in getattr(match.func, "__closure__", None) or ():
        view = cell.cell_contents
        if isinstance(view, PathView):
            for operation in view.operations:
                if operation.view_func is view_func and "POST" in operation.methods:
                    return operation
    return None


View = Callable[[ASGIRequest], Awaitable[HttpResponse]]


class LeanRoutes:
    """The ASGI application: a lean route when one may serve the request, else Django."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self.served = 0  # requests answered here (tests read it; Django's are not counted)
        problem = why_not_lean()
        self.api = None if problem is not None else _ninja_api()
        self.routes: dict[str, View] = {}
        if problem is not None:
            logger.info("lean routes for %s are off: %s", METRICS_PATH, problem)
        else:
            self.routes[METRICS_PATH] = self._metrics
            heartbeat = _operation(HEARTBEAT_PATH, agentapi.heartbeat)
            if heartbeat is not None and heartbeat.api is self.api:
                self.routes[HEARTBEAT_PATH] = functools.partial(self._operation, heartbeat)
            else:
                logger.info("lean route for %s is off: not served by the API", HEARTBEAT_PATH)
        self._credential = agent.AgentCredential()  # ninja's auth objects are costly to make
        self._security = SecurityMiddleware(_not_called)
        self._xframe = XFrameOptionsMiddleware(_not_called)
        self._common = CommonMiddleware(_not_called)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if (
            view is not None
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not any(name == b"cookie" for name, _ in scope["headers"])
        ):
            await self._serve(view, scope, receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def _serve(self, view: View, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = {name.lower(): value for name, value in scope["headers"]}
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex[:16]
        limit = settings.STEWARD["agent_max_body"]
        token = request_id_var.set(request_id)
        try:
            early = body_limit_response(
                headers.get(b"content-length", b"").decode("latin-1"), limit
            )
            if early is not None:
                request = ASGIRequest(scope, io.BytesIO())
                response = early
            else:
                body = await _read_body(receive, limit + 1)
                if body is None:
                    return  # the client left: Django answers nothing either
                request = ASGIRequest(scope, io.BytesIO(body))
                request.request_id = request_id  # type: ignore[attr-defined]
                try:
                    request.get_host()
                except DisallowedHost:
                    await self.django_app(scope, _replay(body, receive), send)
                    return
                response = await self._answer(view, request)
            if response.status_code >= 400:
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        finally:
            request_id_var.reset(token)
        group = metrics.route_group(request.path)
        metrics.REQUESTS.labels("POST", group, str(response.status_code)).inc()
        metrics.LATENCY.labels(group).observe(time.perf_counter() - started)
        response["X-Request-ID"] = request_id
        self.served += 1
        await _send_response(response, send)

    async def _answer(self, view: View, request: ASGIRequest) -> HttpResponse:
        """What the view answers, through the response side of the chain."""
        assert self.api is not None
        with context.acting_as(label="anonymous", source="api", address=client_address(request)):
            try:
                response = await view(request)
            except Exception as exc:
                try:
                    response = self.api.on_exception(request, exc)
                except Exception:
                    # Not one of the API's errors: Django's 500 (logged, DEBUG page or not).
                    response = response_for_exception(request, exc)
        # The chain's response side, innermost first.
        response = self._xframe.process_response(request, response)
        response = self._common.process_response(request, response)
        patch_vary_headers(response, ("Cookie",))
        return self._security.process_response(request, response)

    async def _metrics(self, request: ASGIRequest) -> HttpResponse:
        """``agent.agent_metrics``: the credential checked here, the rest on an ingest thread."""
        assert self.api is not None
        credential = await self._credential(request)
        if credential is None:
            raise AuthenticationError()
        answer = await ingest.in_ingest_thread(agent.store_batch, request, credential)
        response = self.api.create_response(request, answer, status=200)
        response[agent.FORMATS_HEADER] = ", ".join(agent.FORMATS)
        return response

    @staticmethod
    async def _operation(operation: Operation, request: ASGIRequest) -> HttpResponse:
        """ninja's operation, whole, on an ingest thread of the presence lane (heartbeats
        do not wait behind metrics batches; an error it has no handler for is raised, as
        behind the chain)."""
        return await ingest.in_ingest_thread(  # type: ignore[return-value]
            operation.run, request, lane=ingest.PRESENCE_LANE
        )


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The request body, at most ``cap`` bytes (the rest is never read); None when the
    client disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if chunk and size < cap:
            chunks.append(chunk[: cap - size])
            size += len(chunks[-1])
        if not message.get("more_body", False) or size >= cap:
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for Django after this route read the body: the body read, as the whole
    body, then the connection's other events (body beyond the cap is skipped: Django
    expects nothing but a disconnect after the body)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message

    return replay


async def _send_response(response: HttpResponse, send: Send) -> None:
    """As Django's ``ASGIHandler.send_response`` for a plain (not streaming) response."""
    headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in response.items()]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
