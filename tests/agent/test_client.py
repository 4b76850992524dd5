"""The client against a real loopback HTTP server: requests out, typed outcomes back."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime

import pytest

from steward.agent import AGENT_VERSION
from steward.agent.client import (
    AgentClient,
    DeviceRevoked,
    EnrollmentRejected,
    HeartbeatResponse,
    InvalidCredential,
    RequestRejected,
    ServerUnavailable,
    UnexpectedResponse,
)
from tests.agent.fake_server import (
    CHECK_RESULTS,
    CREDENTIAL,
    ENROLL,
    HEARTBEAT,
    INVENTORY,
    FakeServer,
    Reply,
    error,
    free_port,
)


@pytest.fixture
def server() -> FakeServer:
    with FakeServer() as running:
        yield running


def agent(server: FakeServer, **kwargs: float) -> AgentClient:
    return AgentClient(server.url, credential=CREDENTIAL, **kwargs)


def enroll(client: AgentClient) -> None:
    client.enroll(token="set_x", hostname="web-01", machine_id="0" * 32, platform="linux")


def test_heartbeat_sends_bearer_credential_and_a_fresh_sent_at(server: FakeServer) -> None:
    with agent(server) as client:
        reply = client.heartbeat(uptime_seconds=12345.6)
    assert reply == HeartbeatResponse("2026-11-29T04:30:00Z", 10, 3600)
    (request,) = server.requests_to(HEARTBEAT)
    assert request.headers["Authorization"] == f"Bearer {CREDENTIAL}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["agent_version"] == AGENT_VERSION
    assert request.body["uptime_seconds"] == 12345.6
    sent_at = datetime.fromisoformat(request.body["sent_at"])
    assert sent_at.tzinfo is not None
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 5


def test_inventory_is_stamped_when_sent_not_when_collected(server: FakeServer) -> None:
    stale = {"sent_at": "2000-01-01T00:00:00Z", "agent_version": AGENT_VERSION, "hostname": "h"}
    with agent(server) as client:
        reply = client.send_inventory(stale)
    assert (reply.accepted, reply.software_count) == (True, 0)
    body = server.requests_to(INVENTORY)[0].body
    assert next(iter(body)) == "sent_at" and body["sent_at"] != "2000-01-01T00:00:00Z"
    assert body["hostname"] == "h"


def test_expired_token_is_an_enrollment_rejection_with_its_code(server: FakeServer) -> None:
    server.routes[ENROLL] = error(401, "token_expired", "this enrollment token has expired")
    with AgentClient(server.url) as client, pytest.raises(EnrollmentRejected) as caught:
        enroll(client)
    assert (caught.value.code, caught.value.status) == ("token_expired", 401)
    assert caught.value.detail == "this enrollment token has expired"
    assert caught.value.permanent


def test_invalid_enrollment_body_is_an_enrollment_rejection(server: FakeServer) -> None:
    server.routes[ENROLL] = error(422, "invalid_request", "hostname: field required")
    with AgentClient(server.url) as client, pytest.raises(EnrollmentRejected, match="hostname"):
        enroll(client)


def test_revoked_device_is_device_revoked_on_every_call(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = error(403, "device_revoked", "this device was revoked")
    server.routes[INVENTORY] = error(403, "device_revoked", "this device was revoked")
    with agent(server) as client:
        with pytest.raises(DeviceRevoked, match="revoked"):
            client.heartbeat(1.0)
        with pytest.raises(DeviceRevoked):
            client.send_inventory({"agent_version": AGENT_VERSION})


def test_unknown_credential_is_invalid_credential(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = error(401, "invalid_credential", "unknown credential")
    with agent(server) as client, pytest.raises(InvalidCredential):
        client.heartbeat(1.0)


@pytest.mark.parametrize(
    ("status", "code"), [(422, "clock_skew"), (413, "too_large"), (422, "invalid_request")]
)
def test_other_client_errors_are_request_rejected(
    server: FakeServer, status: int, code: str
) -> None:
    server.routes[INVENTORY] = error(status, code, "explained")
    with agent(server) as client, pytest.raises(RequestRejected) as caught:
        client.send_inventory({"agent_version": AGENT_VERSION})
    assert (caught.value.status, caught.value.code, caught.value.detail) == (
        status,
        code,
        "explained",
    )


def test_a_redirect_is_rejected_with_the_target_named(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(301, b"")
    with (
        agent(server) as client,
        pytest.raises(RequestRejected, match=r"steward\.example") as caught,
    ):
        client.heartbeat(1.0)
    assert caught.value.code == "redirect"


def test_connection_refused_is_server_unavailable() -> None:
    client = AgentClient(f"http://127.0.0.1:{free_port()}", credential="c")
    with client, pytest.raises(ServerUnavailable) as caught:
        client.heartbeat(1.0)
    assert not caught.value.permanent


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_server_unavailable(
    server: FakeServer, status: int
) -> None:
    server.routes[HEARTBEAT] = Reply(status, b"<html>Bad Gateway</html>")
    with agent(server) as client, pytest.raises(ServerUnavailable, match=str(status)):
        client.heartbeat(1.0)


def test_a_timeout_is_server_unavailable(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, {}, delay=1.0)
    with agent(server, timeout=0.2) as client, pytest.raises(ServerUnavailable, match="in time"):
        client.heartbeat(1.0)


def test_a_success_that_is_not_the_protocol_is_unexpected(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, b"<html>captive portal</html>")
    server.routes[ENROLL] = Reply(201, {"device_id": 1})  # no credential
    with agent(server) as client:
        with pytest.raises(UnexpectedResponse):
            client.heartbeat(1.0)
        with pytest.raises(UnexpectedResponse, match="credential"):
            enroll(client)


def test_an_error_without_the_protocols_body_still_has_a_code(server: FakeServer) -> None:
    server.routes[INVENTORY] = Reply(404, b"<html>Not Found</html>")
    with agent(server) as client, pytest.raises(RequestRejected) as caught:
        client.send_inventory({})
    assert (caught.value.status, caught.value.code) == (404, "http_404")


def test_authenticated_calls_need_a_credential(server: FakeServer) -> None:
    with AgentClient(server.url) as client, pytest.raises(ValueError, match="credential"):
        client.heartbeat(1.0)
    assert server.requests == []


def test_server_url_must_be_http_or_https() -> None:
    with pytest.raises(ValueError, match="http"):
        AgentClient("steward.example:8000")


def test_requests_share_one_kept_alive_connection(server: FakeServer) -> None:
    with agent(server) as client:
        client.heartbeat(1.0)
        client.fetch_checks()
        client.heartbeat(2.0)
    assert len(server.requests) == 3
    assert server.connections == 1
    (first, *_) = server.requests
    assert first.headers["User-Agent"] == f"steward-agent/{AGENT_VERSION}"


def test_a_connection_the_server_dropped_is_replaced(server: FakeServer) -> None:
    with agent(server) as client:
        client.heartbeat(1.0)
        server.drop_connections()  # as a server closing an idle keep-alive connection
        assert client.heartbeat(2.0).heartbeat_interval == 10
    assert server.connections == 2


def test_after_a_failure_the_next_request_reconnects(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, {}, delay=0.5)
    with agent(server, timeout=0.2) as client:
        with pytest.raises(ServerUnavailable):
            client.heartbeat(1.0)
        server.routes[HEARTBEAT] = Reply(200, {"heartbeat_interval": 7})
        assert client.heartbeat(2.0).heartbeat_interval == 7


def test_threads_take_turns_on_the_connection(server: FakeServer) -> None:
    errors: list[BaseException] = []
    with agent(server) as client:

        def beat() -> None:
            try:
                for _ in range(10):
                    client.heartbeat(1.0)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=beat) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert len(server.requests_to(HEARTBEAT)) == 40
    assert server.connections == 1


def test_a_gzip_compressed_answer_is_decoded(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(
        200, gzip.compress(b'{"heartbeat_interval": 30}'), encoding="gzip"
    )
    with agent(server) as client:
        assert client.heartbeat(1.0).heartbeat_interval == 30
    assert "gzip" in server.requests[0].headers["Accept-Encoding"]


def test_large_check_results_are_sent_gzip_compressed(server: FakeServer) -> None:
    results = [{"check_id": n, "status": "ok", "message": "x" * 100} for n in range(20)]
    with agent(server) as client:
        client.send_check_results(results)
    (request,) = server.requests_to(CHECK_RESULTS)
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.body["results"] == results


def test_a_closed_client_sends_nothing(server: FakeServer) -> None:
    client = agent(server)
    client.close()
    with pytest.raises(RuntimeError):
        client.heartbeat(1.0)
    assert server.requests == []
