"""A lean ASGI route for ``POST /api/v1/agent/metrics``, with the middleware's guarantees.

Every device posts a metrics batch every 10 s. Through Django, each request pays ~2 ms of
CPU before the view runs: 12 sync middlewares behind thread hops, URL resolution over the
whole API, ninja's dispatch (issue #3: more than storing a 500-sample batch costs). This
route answers that one path itself and hands every other request to Django unchanged.

It gives the route what the middleware chain gives it, in the same order, using the same
code where the code can be called on its own:

* ``RequestContextMiddleware``: request id (a sane ``X-Request-ID`` or a new one) in the
  logging context and on the response; request count and latency metrics;
* ``AgentBodyLimitMiddleware``: ``413`` for a ``Content-Length`` over ``agent_max_body``,
  before the body is read (``agentapi.middleware.body_limit_response``); the body is then
  read up to that limit + 1 byte, which is all ``bodies.read_body`` ever reads of it;
* ``CommonMiddleware``: the ``ALLOWED_HOSTS`` check (a bad ``Host`` goes to Django, which
  answers its 400) and ``Content-Length``;
* ``SecurityMiddleware``, ``XFrameOptionsMiddleware``: their response headers, by their
  own ``process_response``; ``SessionMiddleware``'s ``Vary: Cookie`` (the chain reads the
  session user on this path). A request that carries cookies goes to Django: only there do
  sessions and CSRF cookies behave as they always have;
* ``AuditContextMiddleware``: the audit actor (anonymous, ``api``, the client address)
  until ``agent.device_for`` names the device;
* ninja: the route's own authentication (``agent.AgentCredential``), the API's exception
  handlers (same error JSON and statuses), its renderer; Django's 4xx/5xx request log
  (``log_response``) and its 500 answer (``response_for_exception``).

The view's work is ``agent.store_batch`` on an ingest thread, as through Django, so the
alert hooks, metadata and audit context are the same. Django's ``request_started`` and
``request_finished`` signals are not sent: their receivers close the database connections
and caches of the thread they run on, and this route uses none on the event loop (the
ingest threads manage theirs, ADR 0003). ``tests/server/test_lean_route.py``
sends the same requests both ways and compares status, headers and body.

The route is on only when ``MIDDLEWARE`` is the list above (``EXPECTED_MIDDLEWARE``), no
setting asks for what it does not do (SSL redirect, ``PREPEND_WWW``, disallowed user
agents), and the URLconf sends the path to ``agent.agent_metrics``. Otherwise every
request goes through Django: slower, never different.
"""

from __future__ import annotations

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
from ninja.operation import PathView

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
    """The NinjaAPI that serves the path with ``agent.agent_metrics`` (its exception
    handlers and renderer make the answers), or None."""
    try:
        match = resolve(METRICS_PATH)
    except Resolver404:
        return None
    # ninja's view is a closure over its PathView (ninja/operation.py, PathView.get_view).
    for cell in getattr(match.func, "__closure__", None) or ():
        view = cell.cell_contents
        if isinstance(view, PathView):
            for operation in view.operations:
                if operation.view_func is agent.agent_metrics and "POST" in operation.methods:
                    return operation.api
    return None


class LeanRoutes:
    """The ASGI application: the lean route when it may serve, else Django."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self.served = 0  # requests answered here (tests read it; Django's are not counted)
        problem = why_not_lean()
        self.api = None if problem is not None else _ninja_api()
        if problem is not None:
            logger.info("lean route for %s is off: %s", METRICS_PATH, problem)
        self._credential = agent.AgentCredential()  # ninja's auth objects are costly to make
        self._security = SecurityMiddleware(_not_called)
        self._xframe = XFrameOptionsMiddleware(_not_called)
        self._common = CommonMiddleware(_not_called)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.api is not None
            and scope["type"] == "http"
            and scope["path"] == METRICS_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not any(name == b"cookie" for name, _ in scope["headers"])
        ):
            await self._agent_metrics(scope, receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def _agent_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                response = await self._answer(request)
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
        group = metrics.route_group(METRICS_PATH)
        metrics.REQUESTS.labels("POST", group, str(response.status_code)).inc()
        metrics.LATENCY.labels(group).observe(time.perf_counter() - started)
        response["X-Request-ID"] = request_id
        self.served += 1
        await _send_response(response, send)

    async def _answer(self, request: ASGIRequest) -> HttpResponse:
        """What the view answers, through the response side of the chain."""
        assert self.api is not None
        with context.acting_as(label="anonymous", source="api", address=client_address(request)):
            try:
                credential = await self._credential(request)
                if credential is None:
                    raise AuthenticationError()
                answer = await ingest.in_ingest_thread(agent.store_batch, request, credential)
                response = self.api.create_response(request, answer, status=200)
                response[agent.FORMATS_HEADER] = ", ".join(agent.FORMATS)
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
