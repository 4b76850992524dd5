"""Enrollment and the device credential: the agent API's front door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from steward.accounts import tokens
from steward.audit.models import AuditEntry
from steward.inventory.models import Device, EnrollmentToken

pytestmark = pytest.mark.django_db


def now_iso(offset: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).isoformat()


def enroll(api, secret, hostname="ws-42", machine_id="m-42"):
    return api.as_(None).post(
        "agent/enroll",
        {
            "token": secret,
            "hostname": hostname,
            "machine_id": machine_id,
            "agent_version": "0.1.0",
            "platform": "linux",
            "sent_at": now_iso(),
        },
    )


def test_enrollment_gives_a_credential_stored_only_as_a_hash(api, world, enrollment_secret):
    response = enroll(api, enrollment_secret)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credential"].startswith("sdc_")
    assert body["organization"] == "Acme" and body["site"] == "HQ"
    device = Device.objects.get(pk=body["device_id"])
    assert device.credential_hash == tokens.hash_secret(body["credential"])
    assert body["credential"] not in str(Device.objects.filter(pk=device.pk).values().first())
    assert device.status == "online"
    entry = AuditEntry.objects.get(
        object_type="inventory.device", action="create", object_repr="ws-42"
    )
    assert entry.source == "agent" and entry.changes["credential_hash"] == [None, "********"]


def test_unknown_token_is_refused(api, world):
    response = enroll(api, "set_not-a-real-token")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_expired_token_is_refused(api, world, enrollment_secret):
    EnrollmentToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = enroll(api, enrollment_secret)
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")
    assert not Device.objects.filter(hostname="ws-42").exists()


def test_revoked_token_is_refused(api, world, enrollment_secret):
    EnrollmentToken.objects.update(revoked_at=timezone.now())
    response = enroll(api, enrollment_secret)
    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")


def test_token_stops_at_its_maximum_uses(api, world, enrollment_secret):
    EnrollmentToken.objects.update(max_uses=2)
    assert enroll(api, enrollment_secret, "a", "m-a").status_code == 201
    assert enroll(api, enrollment_secret, "b", "m-b").status_code == 201
    response = enroll(api, enrollment_secret, "c", "m-c")
    assert (response.status_code, response.json()["code"]) == (401, "token_exhausted")
    assert EnrollmentToken.objects.get().uses == 2


def test_reenrolling_the_same_machine_reuses_the_device(api, world, enrollment_secret):
    first = enroll(api, enrollment_secret).json()
    second = enroll(api, enrollment_secret).json()
    assert first["device_id"] == second["device_id"]
    assert first["credential"] != second["credential"]
    # The old credential no longer works.
    old = {"HTTP_AUTHORIZATION": f"Bearer {first['credential']}"}
    response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()}, **old)
    assert response.status_code == 401


def test_the_reenrolling_machine_is_found_through_an_index(world) -> None:
    """The lookup runs inside enrollment's write transaction: a scan of the site's
    devices would grow with the site. The plan must search an index on both columns.
    PostgreSQL plans a tiny table as a sequential scan whatever its indexes, so there
    sequential scans are switched off for the EXPLAIN: it then shows the best index."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steward.inventory.services import _existing_device

    with CaptureQueriesContext(connection) as captured:
        assert _existing_device(world.acme_hq, "m-42") is None
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            searched = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING INDEX" in searched, searched
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
            searched = " ".join(line for line in plan if "Index Cond" in line)
    # The index condition, not a filter on the rows found, names the machine id.
    assert "site_id" in searched and "machine_id" in searched, searched


def credential_for(api, secret) -> dict[str, str]:
    body = enroll(api, secret).json()
    return {"HTTP_AUTHORIZATION": f"Bearer {body['credential']}"}


def test_heartbeat_marks_the_device_online_and_returns_intervals(api, world, enrollment_secret):
    auth = credential_for(api, enrollment_secret)
    Device.objects.update(last_seen=timezone.now() - timedelta(hours=1))
    response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()}, **auth)
    assert response.status_code == 200
    assert response.json()["heartbeat_interval"] == 10
    assert Device.objects.get(hostname="ws-42").status == "online"


def test_revoked_device_is_told_to_stop(api, world, enrollment_secret):
    auth = credential_for(api, enrollment_secret)
    device = Device.objects.get(hostname="ws-42")
    response = api.as_(world.technician).post(f"devices/{device.pk}/revoke")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()}, **auth)
    assert (response.status_code, response.json()["code"]) == (403, "device_revoked")
    response = api.as_(None).post("agent/inventory", {"sent_at": now_iso()}, **auth)
    assert response.status_code == 403


def test_agent_credential_cannot_use_the_people_api(api, world, enrollment_secret):
    auth = credential_for(api, enrollment_secret)
    assert api.as_(None).get("devices", **auth).status_code == 401


def test_clock_skew_is_rejected(api, world, enrollment_secret):
    auth = credential_for(api, enrollment_secret)
    response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso(-3600)}, **auth)
    assert (response.status_code, response.json()["code"]) == (422, "clock_skew")


def test_missing_credential_is_401(api, world):
    response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()})
    assert response.status_code == 401


def test_a_heartbeat_reads_a_few_columns_and_writes_one_row(api, world, enrollment_secret):
    """The most frequent request of a fleet: its device read without the inventory and
    without joins, its contact one update, the checks' revision from three columns."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steward.inventory.models import StatusChange

    auth = credential_for(api, enrollment_secret)
    device = Device.objects.get(hostname="ws-42")
    changes = StatusChange.objects.filter(device=device).count()
    with CaptureQueriesContext(connection) as queries:
        response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()}, **auth)
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    reads = [s for s in sql if s.startswith("SELECT")]
    writes = [s for s in sql if s.startswith(("UPDATE", "INSERT"))]
    assert len(reads) == 2, reads  # the device, the checks' revision
    assert not any('"inventory"' in s or "JOIN" in s for s in reads), reads
    assert len(writes) == 1, writes  # last_seen, conditional on being recorded online
    assert StatusChange.objects.filter(device=device).count() == changes


def test_a_heartbeat_of_a_device_recorded_offline_records_it_online_once(
    api, world, enrollment_secret
):
    from steward.inventory.models import Status, StatusChange

    auth = credential_for(api, enrollment_secret)
    device = Device.objects.get(hostname="ws-42")
    Device.objects.filter(pk=device.pk).update(
        recorded_status=Status.OFFLINE, last_seen=timezone.now() - timedelta(hours=1)
    )
    for _ in range(2):
        response = api.as_(None).post("agent/heartbeat", {"sent_at": now_iso()}, **auth)
        assert response.status_code == 200
    device.refresh_from_db()
    assert device.recorded_status == Status.ONLINE
    assert device.last_seen > timezone.now() - timedelta(minutes=1)
    onlines = StatusChange.objects.filter(device=device, status=Status.ONLINE)
    assert onlines.count() == 2  # enrollment's, then this comeback's: not one per heartbeat
