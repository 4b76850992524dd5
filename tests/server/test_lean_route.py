"""The lean ASGI routes for agent metrics and heartbeats answer exactly as the Django
chain does.

Each request is sent twice through real ASGI applications: ``steward.server.asgi``'s
(the lean route in front of Django) and Django's own handler (the full middleware
chain). Status, headers (but the request id) and body must be the same, and the lean
route must really have answered (``served``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.core.asgi import get_asgi_application
from django.db import close_old_connections
from django.utils import timezone

from steward.accounts import tokens
from steward.inventory.models import Device
from steward.metrics import agent, ingest
from steward.metrics.store import set_store_for_tests
from steward.ops import metrics as ops_metrics
from steward.server import lean
from steward.server.asgi import application
from steward.tsdb import open_store
from tests.metrics.memstore import MemoryStore

pytestmark = pytest.mark.django_db

URL = "/api/v1/agent/metrics"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        return self.status, [(k, v) for k, v in self.headers if k != "X-Request-ID"], self.body


def call(
    app: Any, body: bytes, headers: dict[str, str], chunks: int = 1, path: str = URL
) -> Answer:
    """One HTTP request through an ASGI application, as uvicorn would deliver it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def exchange() -> None:
        done = asyncio.Event()  # the client stays until the answer is complete

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)

    # From a sync test, so ingest work runs on this thread, in the test's transaction;
    # as Django's test client, without closing that connection around the request.
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        async_to_sync(exchange)()
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        start["status"],
        [(k.decode(), v.decode("latin-1")) for k, v in start["headers"]],
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


@pytest.fixture(autouse=True)
def memory_store():
    store = MemoryStore()
    set_store_for_tests(store)
    ingest.devices.clear()
    ingest.forget_metadata_cache()
    yield store
    set_store_for_tests(None)
    ingest.forget_metadata_cache()


def batch_body(ts: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "batch_id": f"b-{ts}",
        "sent_at": datetime.now(UTC).isoformat(),
        "timestamps": [ts, ts + 10_000],
        "families": [
            {
                "name": "node_load1",
                "type": "gauge",
                "series": [{"labels": {}, "values": [0.5, None]}],
            }
        ],
        "agent_stats": {"spool_bytes": 0},
    }
    body.update(overrides)
    return body


def gz(body: Any) -> bytes:
    return gzip.compress(body if isinstance(body, bytes) else json.dumps(body).encode())


def agent_headers(credential: str, body: bytes, **extra: str) -> dict[str, str]:
    return {
        "host": "127.0.0.1",
        "authorization": f"Bearer {credential}",
        "content-type": "application/json",
        "content-encoding": "gzip",
        "content-length": str(len(body)),
        **extra,
    }


def both_ways(
    body: bytes, headers: dict[str, str], chunks: int = 1, path: str = URL
) -> tuple[Answer, Answer]:
    """(lean, django): the same request through both, checking the lean route answered."""
    served = application.served
    fast = call(application, body, headers, chunks, path)
    assert application.served == served + 1, "the request went to Django, not the lean route"
    slow = call(get_asgi_application(), body, headers, chunks, path)
    assert application.served == served + 1
    return fast, slow


T0 = int(timezone.now().timestamp() * 1000) - 60_000


def test_the_lean_route_is_on_with_the_projects_settings():
    assert lean.why_not_lean() is None
    assert application.api is not None


def test_a_good_batch_gets_the_same_answer_and_is_stored(credential, memory_store):
    first = gz(batch_body(T0))
    second = gz(batch_body(T0 + 60_000))
    fast = call(application, first, agent_headers(credential, first))
    slow = call(get_asgi_application(), second, agent_headers(credential, second))
    assert fast.status == 200, fast.body
    assert fast.comparable() == slow.comparable()
    assert json.loads(fast.body)["accepted"] == 1
    assert fast.header("Steward-Metrics-Formats") == "points, columns"
    assert fast.header("X-Content-Type-Options") == "nosniff"
    points = [p for _, pts in memory_store.find("node_load1") for p in pts.items()]
    assert sorted(points) == [(T0, 0.5), (T0 + 60_000, 0.5)]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no authorization", 401, "unauthenticated"),
        ("basic scheme", 401, "unauthenticated"),
        ("api token", 401, "invalid_credential"),
        ("unknown credential", 401, "invalid_credential"),
        ("revoked device", 403, "device_revoked"),
        ("declared too large", 413, "too_large"),
        ("unreadable content-length", 413, "too_large"),
        ("sent too large", 413, "too_large"),
        ("corrupt gzip", 400, "invalid_encoding"),
        ("unknown encoding", 415, "unsupported_encoding"),
        ("not json", 422, "invalid_request"),
        ("infinite value", 422, "invalid_request"),
        ("values not aligned", 422, "invalid_request"),
        ("clock skew", 422, "clock_skew"),
    ],
)
def test_bad_requests_are_refused_exactly_as_through_django(
    world, credential, memory_store, settings, case, status, code
):
    settings.STEWARD = {**settings.STEWARD, "agent_max_body": 4096}
    body = gz(batch_body(T0))
    headers = agent_headers(credential, body)
    chunks = 1
    if case == "no authorization":
        del headers["authorization"]
    elif case == "basic scheme":
        headers["authorization"] = f"Basic {credential}"
    elif case == "api token":
        headers["authorization"] = "Bearer stt_not-a-device-credential"
    elif case == "unknown credential":
        headers["authorization"] = f"Bearer {tokens.DEVICE_CREDENTIAL_PREFIX}nobody"
    elif case == "revoked device":
        Device.objects.filter(pk=world.acme_device.pk).update(revoked_at=timezone.now())
    elif case == "declared too large":
        headers["content-length"] = "4097"
    elif case == "unreadable content-length":
        headers["content-length"] = "lots"
    elif case == "sent too large":  # no Content-Length: counted while read, in pieces
        body = b"\0" * 6000
        del headers["content-length"]
        chunks = 4
    elif case == "corrupt gzip":
        body = b"\x1f\x8b not gzip"
        headers["content-length"] = str(len(body))
    elif case == "unknown encoding":
        headers["content-encoding"] = "br"
    elif case == "not json":
        body = gz(b"{nope")
        headers["content-length"] = str(len(body))
    elif case == "infinite value":
        body = gz(
            json.dumps(batch_body(T0)).replace("0.5", "Infinity").encode()  # JSON's extension
        )
        headers["content-length"] = str(len(body))
    elif case == "values not aligned":
        body = gz(batch_body(T0, timestamps=[T0]))
        headers["content-length"] = str(len(body))
    elif case == "clock skew":
        body = gz(batch_body(T0, sent_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()))
        headers["content-length"] = str(len(body))
    fast, slow = both_ways(body, headers, chunks)
    assert (fast.status, json.loads(fast.body)["code"]) == (status, code), fast.body
    assert fast.comparable() == slow.comparable()
    assert memory_store.sample_count() == 0


def test_an_error_names_the_first_bad_field(credential):
    body = gz(batch_body(T0, timestamps=[T0]))
    fast = call(application, body, agent_headers(credential, body))
    assert json.loads(fast.body)["detail"].startswith("families.0.series.0.values: 2 values")


def test_the_request_id_is_kept_or_made_and_requests_are_counted(credential):
    body = gz(batch_body(T0))
    counter = ops_metrics.REQUESTS.labels("POST", ops_metrics.route_group(URL), "200")
    before = counter._value.get()
    kept = call(application, body, agent_headers(credential, body, **{"x-request-id": "abc-1"}))
    made = call(application, body, agent_headers(credential, body, **{"x-request-id": "bad id!"}))
    assert kept.header("X-Request-ID") == "abc-1"
    assert made.header("X-Request-ID") not in (None, "", "bad id!")
    assert counter._value.get() == before + 2


@pytest.mark.parametrize(
    "extra",
    [{"host": "evil.example"}, {"cookie": "sessionid=abc"}],
    ids=["host not allowed", "cookies"],
)
def test_requests_it_cannot_answer_alone_go_to_django(credential, extra):
    body = gz(batch_body(T0))
    headers = agent_headers(credential, body, **extra)
    served = application.served
    fast = call(application, body, headers)
    slow = call(get_asgi_application(), body, headers)
    assert application.served == served
    assert fast.status == slow.status
    if "host" in extra:
        assert fast.status == 400


def test_another_middleware_chain_turns_the_route_off(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    assert "MIDDLEWARE" in (lean.why_not_lean() or "")
    assert lean.LeanRoutes(get_asgi_application()).api is None
    settings.MIDDLEWARE = settings.MIDDLEWARE[:-1]
    settings.SECURE_SSL_REDIRECT = True
    assert lean.LeanRoutes(get_asgi_application()).api is None


class BrokenStore(MemoryStore):
    """A store whose disk has gone away."""

    def append(self, org_id, samples):
        raise OSError("disk I/O error")


def test_an_unexpected_error_is_djangos_500_on_both_paths(credential, caplog):
    set_store_for_tests(BrokenStore())
    body = gz(batch_body(T0))
    fast = call(application, body, agent_headers(credential, body))
    [logged] = [r for r in caplog.records if r.name == "django.request"]
    assert logged.levelname == "ERROR" and logged.exc_info  # with the traceback
    slow = call(get_asgi_application(), body, agent_headers(credential, body))
    assert fast.status == 500
    assert fast.comparable() == slow.comparable()


def test_a_bad_host_with_a_body_over_the_cap_still_gets_djangos_answer(credential, settings):
    settings.STEWARD = {**settings.STEWARD, "agent_max_body": 1024}
    body = b"\0" * 5000
    headers = agent_headers(credential, body, host="evil.example")
    del headers["content-length"]  # read in pieces, stopped at the cap, then handed over
    served = application.served
    fast = call(application, body, headers, chunks=5)
    slow = call(get_asgi_application(), body, headers, chunks=5)
    assert application.served == served
    assert (fast.status, fast.body) == (slow.status, slow.body) == (400, fast.body)


def test_known_series_get_the_same_answers_both_ways(credential, tmp_path):
    """With a store that resolves ids, the device's known series (``agent.KnownSeries``)
    serve later batches on either route, with the same answers and the same checks."""
    store = open_store(tmp_path / "metrics.sqlite3")
    set_store_for_tests(store)
    agent.forget_known_series()
    try:
        answers = []
        for n in range(4):  # new series, learnt, then known: alternately lean and Django
            body = gz(batch_body(T0 + n * 20_000))
            app = application if n % 2 == 0 else get_asgi_application()
            answers.append(call(app, body, agent_headers(credential, body)))
        assert [json.loads(a.body)["accepted"] for a in answers] == [1, 1, 1, 1]
        assert all(a.comparable() == answers[0].comparable() for a in answers)
        replay = gz(batch_body(T0 + 3 * 20_000))
        fast, slow = both_ways(replay, agent_headers(credential, replay))
        assert fast.comparable() == slow.comparable()
        assert json.loads(fast.body)["duplicates"] == 1
        families = [{"name": "node_load1", "series": [{"labels": {}, "values": ["x", None]}]}]
        bad = gz(batch_body(T0 + 200_000, families=families))
        fast, slow = both_ways(bad, agent_headers(credential, bad))
        assert fast.status == 422, fast.body
        assert fast.comparable() == slow.comparable()
    finally:
        set_store_for_tests(None)
        agent.forget_known_series()
        store.close()


# --- heartbeats ---------------------------------------------------------------------------

HEARTBEAT = "/api/v1/agent/heartbeat"


def heartbeat_body(**overrides: Any) -> bytes:
    body = {"sent_at": datetime.now(UTC).isoformat(), "agent_version": "1.2.3"}
    body.update(overrides)
    return json.dumps(body).encode()


def heartbeat_headers(credential: str, body: bytes, **extra: str) -> dict[str, str]:
    headers = agent_headers(credential, body, **extra)
    del headers["content-encoding"]  # agents send heartbeats as plain JSON
    return headers


def without_clock(answer: Answer) -> tuple[int, list[tuple[str, str]], Any]:
    """``comparable()`` with the body parsed and its ``server_time`` (now) left out."""
    status, headers, body = answer.comparable()
    data = json.loads(body)
    data.pop("server_time", None)
    return status, [(k, v) for k, v in headers if k != "Content-Length"], data


def test_a_heartbeat_gets_the_same_answer_and_records_contact(world, credential):
    Device.objects.filter(pk=world.acme_device.pk).update(last_seen=None, agent_version="1.0")
    body = heartbeat_body()
    fast, slow = both_ways(body, heartbeat_headers(credential, body), path=HEARTBEAT)
    assert fast.status == 200, fast.body
    assert without_clock(fast) == without_clock(slow)
    answer = json.loads(fast.body)
    assert set(answer) == {
        "server_time",
        "heartbeat_interval",
        "inventory_interval",
        "checks_revision",
    }
    device = Device.objects.get(pk=world.acme_device.pk)
    assert device.last_seen is not None
    assert device.agent_version == "1.2.3"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no authorization", 401, "unauthenticated"),
        ("unknown credential", 401, "invalid_credential"),
        ("revoked device", 403, "device_revoked"),
        ("declared too large", 413, "too_large"),
        ("not json", 400, None),
        ("no sent_at", 422, None),
        ("negative uptime", 422, None),
        ("clock skew", 422, "clock_skew"),
    ],
)
def test_bad_heartbeats_are_refused_exactly_as_through_django(
    world, credential, settings, case, status, code
):
    settings.STEWARD = {**settings.STEWARD, "agent_max_body": 4096}
    body = heartbeat_body()
    headers = heartbeat_headers(credential, body)
    if case == "no authorization":
        del headers["authorization"]
    elif case == "unknown credential":
        headers["authorization"] = f"Bearer {tokens.DEVICE_CREDENTIAL_PREFIX}nobody"
    elif case == "revoked device":
        Device.objects.filter(pk=world.acme_device.pk).update(revoked_at=timezone.now())
    elif case == "declared too large":
        headers["content-length"] = "4097"
    elif case == "not json":
        body = b"{nope"
    elif case == "no sent_at":
        body = json.dumps({"agent_version": "1"}).encode()
    elif case == "negative uptime":
        body = heartbeat_body(uptime_seconds=-1)
    elif case == "clock skew":
        body = heartbeat_body(sent_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    headers["content-length"] = str(len(body)) if case != "declared too large" else "4097"
    Device.objects.filter(pk=world.acme_device.pk).update(last_seen=None)
    fast, slow = both_ways(body, headers, path=HEARTBEAT)
    assert fast.status == status, fast.body
    if code is not None:
        assert json.loads(fast.body)["code"] == code
    assert fast.comparable() == slow.comparable()
    assert Device.objects.get(pk=world.acme_device.pk).last_seen is None


def test_an_unexpected_heartbeat_error_is_djangos_500_on_both_paths(
    credential, caplog, monkeypatch
):
    from steward.inventory import presence

    def broken(device):
        raise OSError("disk I/O error")

    monkeypatch.setattr(presence, "record_contact", broken)
    body = heartbeat_body()
    fast, slow = both_ways(body, heartbeat_headers(credential, body), path=HEARTBEAT)
    assert fast.status == 500
    assert fast.comparable() == slow.comparable()
    assert any(r.name == "django.request" and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "lane"), [(HEARTBEAT, ingest.PRESENCE_LANE), (URL, ingest.STORE_LANE)]
)
def test_heartbeats_and_batches_run_in_their_own_lanes(world, credential, monkeypatch, path, lane):
    """Heartbeats on the presence lane: they never wait behind metrics batches queued for
    the store's write lock (``tests/metrics/test_ingest_lanes.py``)."""
    lanes: list[str] = []
    real = ingest.in_ingest_thread

    async def spy(fn: Any, *args: Any, lane: str = ingest.STORE_LANE) -> Any:
        lanes.append(lane)
        return await real(fn, *args, lane=lane)

    monkeypatch.setattr(ingest, "in_ingest_thread", spy)
    if path == HEARTBEAT:
        body = heartbeat_body()
        headers = heartbeat_headers(credential, body)
    else:
        body = gz(batch_body(T0))
        headers = agent_headers(credential, body)
    answer = call(application, body, headers, path=path)
    assert answer.status == 200, answer.body
    assert lanes == [lane]


def test_other_agent_paths_still_go_to_django(credential):
    served = application.served
    answer = call(application, b"", heartbeat_headers(credential, b""), path="/api/v1/agent/checks")
    assert application.served == served
    assert answer.status == 405  # the path takes GET: Django's answer, not a lean one
