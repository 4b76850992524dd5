"""POST /api/v1/write and /api/v1/api/v2/write: InfluxDB line protocol from Telegraf & co."""

from __future__ import annotations

import base64
import gzip

import pytest
from django.test import Client

from steward.metrics import ingest
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role
from tests.server.conftest import bearer, make_device

pytestmark = pytest.mark.django_db

T_S = 1764390600  # seconds


def write(body: str | bytes, query: str = "", headers: dict | None = None, path="/api/v1/write"):
    data = body.encode() if isinstance(body, str) else body
    return Client().post(
        f"{path}{'?' + query if query else ''}",
        data=data,
        content_type="text/plain; charset=utf-8",
        **(headers or {}),
    )


def test_lines_are_stored_with_telegraf_prometheus_naming(world, metrics_store):
    response = write(
        f"cpu,cpu=cpu0,host=nas usage_idle=99.5,usage_user=0.5 {T_S}\n"
        f"prometheus,host=nas go_goroutines=12i {T_S}\n",
        "precision=s",
        bearer(world.technician),
    )
    assert response.status_code == 204, response.content
    [(labels, points)] = metrics_store.find("cpu_usage_idle")
    assert labels == {
        "__name__": "cpu_usage_idle",
        "cpu": "cpu0",
        "host": "nas",
        "instance": "nas",
        "job": "telegraf",
        "steward_org": "acme",
    }
    assert points == {T_S * 1000: 99.5}
    assert metrics_store.find("cpu_usage_user")
    assert metrics_store.find("go_goroutines")  # measurement "prometheus": field name only


def test_a_host_tag_naming_a_device_puts_the_series_on_that_device(world, metrics_store):
    response = write(
        f"mem,host=ACME-WS-01 used_percent=42 {T_S}", "precision=s", bearer(world.technician)
    )
    assert response.status_code == 204
    [(labels, _)] = metrics_store.find("mem_used_percent")
    assert labels["steward_device"] == str(world.acme_device.pk)
    assert labels["instance"] == "acme-ws-01"
    assert labels["host"] == "ACME-WS-01"


def test_a_host_of_another_organization_is_not_mapped(world, metrics_store):
    write(f"mem,host=globex-srv-01 used=1 {T_S}", "precision=s", bearer(world.technician))
    [(labels, _)] = metrics_store.find("mem_used")
    assert "steward_device" not in labels and labels["steward_org"] == "acme"


def test_clients_cannot_set_the_labels_steward_owns(world, metrics_store):
    write(
        f"m,steward_device=7,steward_org=globex v=1 {T_S}", "precision=s", bearer(world.technician)
    )
    [(labels, _)] = metrics_store.find("m_v")
    assert labels["steward_org"] == "acme" and "steward_device" not in labels
    assert labels["exported_steward_device"] == "7"
    assert labels["exported_steward_org"] == "globex"


def test_names_are_sanitized(world, metrics_store):
    write(f"disk.io,dev-name=sda,1st=x read-bytes=1 {T_S}", "precision=s", bearer(world.technician))
    [(labels, _)] = metrics_store.find("disk_io_read_bytes")
    assert labels["dev_name"] == "sda" and labels["_1st"] == "x"


def test_string_fields_are_skipped(world, metrics_store):
    response = write(
        f'syslog,host=a msg="disk full",severity=3i {T_S}', "precision=s", bearer(world.technician)
    )
    assert response.status_code == 204
    assert [labels["__name__"] for labels in metrics_store.all_series()] == ["syslog_severity"]


def test_no_timestamp_means_the_time_of_arrival(world, metrics_store):
    before = ingest.now_ms()
    write("m v=1", headers=bearer(world.technician))
    [(_, points)] = metrics_store.find("m_v")
    assert before <= next(iter(points)) <= ingest.now_ms()


def test_default_precision_is_nanoseconds(world, metrics_store):
    write("m v=1 1764390600123456789", headers=bearer(world.technician))
    assert metrics_store.find("m_v")[0][1] == {1764390600123: 1.0}


def test_partial_acceptance_names_the_first_bad_line_and_counts(world, metrics_store):
    lines = [f"m,i={i} v={i} {T_S}" for i in range(1, 11)]
    lines[2] = f"m,i=3 v=abc {T_S}"
    lines[6] = "garbage"
    response = write("\n".join(lines), "precision=s", bearer(world.technician))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "line 3: invalid field value 'abc'",
        "code": "invalid_line",
        "accepted": 8,
        "rejected": 2,
        "samples_accepted": 8,
        "samples_duplicate": 0,
        "samples_rejected": 0,
        "strings_skipped": 0,
    }
    assert metrics_store.sample_count() == 8


def test_comments_and_blank_lines_are_fine(world, metrics_store):
    response = write(f"# from a file\n\nm v=1 {T_S}\n\n", "precision=s", bearer(world.technician))
    assert response.status_code == 204 and metrics_store.sample_count() == 1


def test_the_v2_path_takes_org_and_bucket(world, metrics_store):
    response = write(
        f"m v=1 {T_S}",
        "org=acme&bucket=telegraf&precision=s",
        bearer(world.technician),
        path="/api/v1/api/v2/write",
    )
    assert response.status_code == 204
    assert metrics_store.all_series(world.acme.pk)


def test_gzip_bodies_are_accepted(world, metrics_store):
    body = gzip.compress(f"m v=1 {T_S}\nm v=2 {T_S + 1}\n".encode())
    response = write(
        body, "precision=s", {**bearer(world.technician), "HTTP_CONTENT_ENCODING": "gzip"}
    )
    assert response.status_code == 204 and metrics_store.sample_count() == 2


def test_an_oversized_body_is_413(world, metrics_store, settings):
    settings.STEWARD = {**settings.STEWARD, "metrics_write_max_body": 1000}
    response = write("m v=1\n" * 200, headers=bearer(world.technician))
    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    bomb = gzip.compress(b"m v=1\n" * 10_000)
    response = write(bomb, headers={**bearer(world.technician), "HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 413
    assert metrics_store.sample_count() == 0


def test_too_many_lines_is_413(world, metrics_store, settings):
    settings.STEWARD = {**settings.STEWARD, "metrics_write_max_lines": 10}
    response = write("m v=1\n" * 11, headers=bearer(world.technician))
    assert response.status_code == 413 and metrics_store.sample_count() == 0


def test_a_body_larger_than_djangos_upload_limit_is_fine(world, metrics_store, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = write(
        "".join(f"m,i={i} v=1 {T_S}\n" for i in range(200)), "precision=s", bearer(world.technician)
    )
    assert response.status_code == 204 and metrics_store.sample_count() == 200


def test_unknown_precision_is_400(world):
    response = write("m v=1", "precision=fortnight", bearer(world.technician))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_store_limit_refusals_are_422_naming_the_organization_and_limit(world, metrics_store):
    metrics_store.max_series_per_org = 1
    response = write(f"m a=1,b=2 {T_S}", "precision=s", bearer(world.technician))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "limit_exceeded"
    assert body["detail"] == (
        "organization 'acme': 1 sample(s) refused: series limit of 1 per organization reached"
    )
    assert (body["samples_accepted"], body["samples_rejected"]) == (1, 1)


# --- authentication and the target organization -----------------------------------------


def _secret(user) -> str:
    return bearer(user)["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


@pytest.mark.parametrize(
    "header",
    [
        lambda s: f"Bearer {s}",
        lambda s: f"Token {s}",
        lambda s: "Basic " + base64.b64encode(f"telegraf:{s}".encode()).decode(),
    ],
)
def test_a_token_is_accepted_as_bearer_token_or_basic_password(world, metrics_store, header):
    response = write("m v=1", headers={"HTTP_AUTHORIZATION": header(_secret(world.technician))})
    assert response.status_code == 204


def test_no_or_a_wrong_token_is_401(world):
    assert write("m v=1").status_code == 401
    assert write("m v=1", headers={"HTTP_AUTHORIZATION": "Token stk_nope"}).status_code == 401
    basic = "Basic " + base64.b64encode(b"user:wrong").decode()
    assert write("m v=1", headers={"HTTP_AUTHORIZATION": basic}).status_code == 401


def test_a_viewer_cannot_write(world, metrics_store):
    response = write("m v=1", headers=bearer(world.viewer))
    assert response.status_code == 403 and metrics_store.sample_count() == 0


def test_a_technician_token_with_a_viewer_ceiling_cannot_write(world, metrics_store):
    response = write("m v=1", "org=acme", bearer(world.technician, Role.VIEWER))
    assert response.status_code == 403


def test_another_organizations_token_cannot_write_into_acme(world, metrics_store):
    response = write("m v=1", "org=acme", bearer(world.outsider))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = write("m v=1", f"org={world.acme.pk}", bearer(world.outsider))
    assert response.status_code == 404
    assert metrics_store.sample_count() == 0


def test_without_org_the_token_writes_into_its_only_organization(world, metrics_store):
    assert write("m v=1", headers=bearer(world.outsider)).status_code == 204
    assert set(metrics_store.data) == {world.globex.pk}


def test_a_member_of_several_organizations_must_choose(world, metrics_store):
    Membership.objects.create(
        user=world.technician, organization=world.globex, role=Role.TECHNICIAN
    )
    response = write("m v=1", headers=bearer(world.technician))
    assert (response.status_code, response.json()["code"]) == (400, "org_required")
    assert "acme, globex" in response.json()["detail"]
    assert write("m v=1", "org=globex", bearer(world.technician)).status_code == 204
    assert write("m v=1", f"org={world.acme.pk}", bearer(world.technician)).status_code == 204
    assert set(metrics_store.data) == {world.acme.pk, world.globex.pk}


def test_a_superuser_must_name_the_organization(world, metrics_store):
    assert write("m v=1", headers=bearer(world.superuser)).status_code == 400
    assert write("m v=1", "org=globex", headers=bearer(world.superuser)).status_code == 204


def test_device_mapping_sees_new_devices_after_the_cache_expires(world, metrics_store):
    write(f"m,host=new-box v=1 {T_S}", "precision=s", bearer(world.technician))
    device = make_device(world.acme_hq, "new-box")
    ingest.devices.clear()  # what the cache's expiry does after metrics_device_cache_seconds
    write(f"m,host=new-box v=2 {T_S + 1}", "precision=s", bearer(world.technician))
    devices = {labels.get("steward_device") for labels, _ in metrics_store.find("m_v")}
    assert devices == {None, str(device.pk)}


def test_the_garbage_collector_is_running_again_after_a_write(world, metrics_store):
    import gc

    write("m v=1\nbad\n", headers=bearer(world.technician))
    assert gc.isenabled()
