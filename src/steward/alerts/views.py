"""Heartbeat ping endpoints (no authentication: the UUID in the URL is the secret).

``/ping/<uuid>`` success, ``/ping/<uuid>/start``, ``/ping/<uuid>/fail``,
``/ping/<uuid>/<exit status 0..255>``; GET, HEAD and POST; tiny text answers ("OK",
"not found", "rate limited") as Healthchecks does, so ``curl -fsS`` in a cron line is
enough. Rate limit: ``RATE_PER_MINUTE`` pings per UUID and minute (per process); a
flood cannot grow the table (the last 100 pings are kept) nor the engine's work.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from steward.alerts import heartbeats
from steward.alerts.models import HeartbeatCheck
from steward.checks.heartbeat import PingKind
from steward.ops.middleware import client_address

RATE_PER_MINUTE = 60
_hits: dict[str, deque[float]] = {}
_lock = threading.Lock()


def _limited(key: str) -> bool:
    now = time.monotonic()
    with _lock:
        q = _hits.setdefault(key, deque())
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= RATE_PER_MINUTE:
            return True
        q.append(now)
        if len(_hits) > 100_000:  # bounded memory under a scan of random UUIDs
            _hits.clear()
        return False


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def ping(request: HttpRequest, slug: uuid.UUID, action: str = "") -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return _text("method not allowed", 405)
    if _limited(str(slug)):
        return _text("rate limited", 429)
    exit_status = None
    if action == "":
        kind = PingKind.SUCCESS
    elif action == "start":
        kind = PingKind.START
    elif action == "fail":
        kind = PingKind.FAIL
    elif action.isdigit() and int(action) <= 255:
        exit_status = int(action)
        kind = PingKind.SUCCESS if exit_status == 0 else PingKind.FAIL
    else:
        return _text("not found", 404)
    beat = HeartbeatCheck.objects.filter(slug=slug, enabled=True).first()
    if beat is None:
        return _text("not found", 404)
    heartbeats.record_ping(
        beat,
        kind,
        exit_status,
        remote_addr=client_address(request) or "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    return _text("OK")
