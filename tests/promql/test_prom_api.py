"""The Prometheus HTTP API: envelope, parameters, authentication and tenant isolation.

Grafana is the main client: it sends POST form-encoded queries, ``match[]`` arrays and
basic auth. The store is an in-memory one holding a series per organization.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from steward.metrics import prom_api
from steward.promql.memstore import MemoryStore
from steward.tenancy.roles import Role
from steward.tsdb.types import MetricType, SeriesMetadata
from tests.server.conftest import bearer

pytestmark = pytest.mark.django_db

BASE = "/prometheus/api/v1"
T0 = 1_700_000_000  # seconds
STEP = 15


@pytest.fixture
def store(world, monkeypatch) -> MemoryStore:
    s = MemoryStore()
    for org, device in ((world.acme, world.acme_device), (world.globex, world.globex_device)):
        labels = {
            "__name__": "node_load1",
            "instance": device.hostname,
            "job": "steward",
            "steward_device": str(device.pk),
            "steward_org": org.slug,
        }
        times = [(T0 + i * STEP) * 1000 for i in range(240)]  # one hour
        s.append_series(org.pk, labels, times, [float(i % 10) for i in range(240)])
        s.set_metadata(org.pk, [SeriesMetadata("node_load1", MetricType.GAUGE, "", "1m load")])
    monkeypatch.setattr(prom_api, "get_store", lambda: s)
    return s


def get(client: Client, path: str, headers: dict[str, str] | None = None, **params):
    return client.get(f"{BASE}/{path}", params, **(headers or {}))


def post_form(client: Client, path: str, headers: dict[str, str] | None = None, **params):
    return client.post(
        f"{BASE}/{path}",
        urlencode(params, doseq=True),
        content_type="application/x-www-form-urlencoded",
        **(headers or {}),
    )


def basic(secret: str, user: str = "grafana") -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {encoded}"}


def token_of(headers: dict[str, str]) -> str:
    return headers["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


def instances(response) -> set[str]:
    body = response.json()
    assert body["status"] == "success", body
    return {item["metric"]["instance"] for item in body["data"]["result"]}


# -- authentication and tenancy -------------------------------------------------------------


def test_it_requires_credentials(client, store):
    response = get(client, "query", query="node_load1", time=T0 + 600)
    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_a_wrong_token_is_refused(client, store):
    wrong = {"HTTP_AUTHORIZATION": "Bearer stw_nope"}
    assert get(client, "query", wrong, query="1").status_code == 401
    assert get(client, "query", basic("stw_nope"), query="1").status_code == 401
    assert get(client, "query", {"HTTP_AUTHORIZATION": "Basic !!!"}, query="1").status_code == 401


def test_bearer_token_sees_only_its_organizations(client, world, store):
    response = get(client, "query", bearer(world.viewer), query="node_load1", time=T0 + 600)
    assert instances(response) == {"acme-ws-01"}
    response = get(client, "query", bearer(world.outsider), query="node_load1", time=T0 + 600)
    assert instances(response) == {"globex-srv-01"}


def test_basic_auth_with_a_token_as_password_works(client, world, store):
    secret = token_of(bearer(world.owner))
    response = get(client, "query", basic(secret), query="node_load1", time=T0 + 600)
    assert instances(response) == {"acme-ws-01"}


def test_staff_sees_every_organization(client, world, store):
    response = get(client, "query", bearer(world.superuser), query="node_load1", time=T0 + 600)
    assert instances(response) == {"acme-ws-01", "globex-srv-01"}


def test_a_requester_sees_no_metrics(client, world, store):
    response = get(client, "query", bearer(world.requester), query="node_load1", time=T0 + 600)
    assert instances(response) == set()


def test_a_token_role_ceiling_applies(client, world, store):
    headers = bearer(world.owner, Role.REQUESTER)
    assert instances(get(client, "query", headers, query="node_load1", time=T0 + 600)) == set()


def test_a_signed_in_session_can_query(world, store):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.technician)
    assert instances(get(client, "query", query="node_load1", time=T0 + 600)) == {"acme-ws-01"}
    # A session's POST without the CSRF token is refused (a token client needs none).
    response = post_form(client, "query", query="node_load1", time=T0 + 600)
    assert response.status_code == 403


def test_tenancy_also_holds_for_series_labels_and_values(client, world, store):
    headers = bearer(world.outsider)
    series = get(client, "series", headers, **{"match[]": "node_load1"}).json()["data"]
    assert [s["instance"] for s in series] == ["globex-srv-01"]
    values = get(client, "label/instance/values", headers).json()["data"]
    assert values == ["globex-srv-01"]
    values = get(client, "label/steward_org/values", headers).json()["data"]
    assert values == [world.globex.slug]


# -- query and query_range ------------------------------------------------------------------


def test_instant_query_envelope(client, world, store):
    response = get(client, "query", bearer(world.owner), query="node_load1", time=T0 + 600)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["data"]["resultType"] == "vector"
    (item,) = body["data"]["result"]
    assert item["value"] == [T0 + 600, "0"]  # sample 40 → 40 % 10; values are strings
    assert item["metric"]["__name__"] == "node_load1"


def test_scalar_and_string_results(client, world, store):
    headers = bearer(world.owner)
    data = get(client, "query", headers, query="1 + 1", time="100.5").json()["data"]
    assert data == {"resultType": "scalar", "result": [100.5, "2"]}
    data = get(client, "query", headers, query='"x"', time="100").json()["data"]
    assert data == {"resultType": "string", "result": [100, "x"]}
    data = get(client, "query", headers, query="1/0", time="1").json()["data"]
    assert data["result"][1] == "+Inf"
    data = get(client, "query", headers, query="0/0", time="1").json()["data"]
    assert data["result"][1] == "NaN"


def test_time_accepts_rfc3339(client, world, store):
    data = get(
        client, "query", bearer(world.owner), query="time()", time="2023-11-14T22:13:20.5Z"
    ).json()["data"]
    assert data["result"] == [1_700_000_000.5, "1700000000.5"]


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1796016000", 1_796_016_000_000),
        ("1796016000.5", 1_796_016_000_500),
        ("2026-11-30T05:00:00Z", 1_796_014_800_000),
        ("2026-11-30T05:00:00.123+01:00", 1_796_011_200_123),
        ("2026-11-30T05:00:00.123456789Z", 1_796_014_800_123),
        ("2026-11-30T05:00:00,5Z", 1_796_014_800_500),  # Go accepts a comma too
    ],
)
def test_time_accepts_unix_seconds_and_rfc3339(text, ms):
    assert prom_api.parse_time(text, "time") == ms


# Each of these is a 400 from Prometheus 2.42 (checked against the real server): its
# parseTime takes a Go float or time.RFC3339Nano and nothing else from ISO 8601.
@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30",  # date only
        "2026-11-30T05:00:00",  # no offset
        "2026-11-30T05:00Z",  # no seconds
        "2026-11-30 05:00:00Z",  # space for T
        "2026-11-30t05:00:00z",  # lower case
        "20261130T050000Z",  # ISO 8601 basic format
        "2026-11-30T05:00:00+0100",  # offset without a colon
        "2026-11-30T05:00:00+01",
        "2026-11-30T05:00:00.123456789123Z",  # beyond nanoseconds
    ],
)
def test_time_rejects_what_is_not_rfc3339(client, world, store, text):
    response = get(client, "query", bearer(world.owner), query="time()", time=text)
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "bad_data")
    assert f'cannot parse "{text}" to a valid timestamp' in body["error"]


def test_grafana_style_post_query_range(client, world, store):
    secret = token_of(bearer(world.owner))
    response = post_form(
        client,
        "query_range",
        basic(secret),
        query="avg by (instance) (rate(node_load1[5m]))",
        start=str(T0 + 600),
        end=str(T0 + 1800),
        step="60",
    )
    body = response.json()
    assert body["status"] == "success", body
    assert body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"instance": "acme-ws-01"}
    assert [p[0] for p in series["values"]] == list(range(T0 + 600, T0 + 1801, 60))


def test_query_range_accepts_durations_and_rfc3339(client, world, store):
    response = get(
        client,
        "query_range",
        bearer(world.owner),
        query="node_load1",
        start="2023-11-14T22:23:20Z",
        end="2023-11-14T22:33:20Z",
        step="1m",
    )
    assert len(response.json()["data"]["result"][0]["values"]) == 11


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, 'invalid parameter "query"'),
        ({"query": "x", "end": "1", "step": "1"}, 'invalid parameter "start"'),
        ({"query": "x", "start": "2", "end": "1", "step": "1"}, "end timestamp must not be"),
        ({"query": "x", "start": "1", "end": "2", "step": "0"}, "zero or negative"),
        ({"query": "x", "start": "1", "end": "2", "step": "soon"}, 'parameter "step"'),
        ({"query": "x", "start": "yesterday", "end": "2", "step": "1"}, "cannot parse"),
        ({"query": "x", "start": "0", "end": "100000", "step": "1"}, "11,000 points"),
    ],
)
def test_query_range_parameter_errors(client, world, store, params, message):
    response = get(client, "query_range", bearer(world.owner), **params)
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "bad_data")
    assert message in body["error"]


def test_parse_errors_are_bad_data_with_the_parser_message(client, world, store):
    response = get(client, "query", bearer(world.owner), query="sum(node_load1")
    assert response.status_code == 400
    assert "unclosed left parenthesis" in response.json()["error"]


def test_unsupported_constructs_are_bad_data_naming_them(client, world, store):
    response = get(client, "query", bearer(world.owner), query="rate(node_load1[5m])[1h:1m]")
    assert response.status_code == 400
    assert "subquery" in response.json()["error"]


def test_evaluation_errors_are_422_execution(client, world, store):
    response = get(
        client,
        "query",
        bearer(world.superuser),
        query="node_load1 + on(job) node_load1",
        time=T0 + 600,
    )
    assert response.status_code == 422
    assert response.json()["errorType"] == "execution"


# -- metadata endpoints ---------------------------------------------------------------------


def test_series_with_several_match_arrays(client, world, store):
    response = post_form(
        client,
        "series",
        bearer(world.superuser),
        **{"match[]": ['node_load1{instance="acme-ws-01"}', '{job="steward"}']},
    )
    data = response.json()["data"]
    assert sorted(s["instance"] for s in data) == ["acme-ws-01", "globex-srv-01"]


def test_series_requires_match(client, world, store):
    response = get(client, "series", bearer(world.owner))
    assert response.status_code == 400
    assert response.json()["error"] == "no match[] parameter provided"
    response = get(client, "series", bearer(world.owner), **{"match[]": "sum(x)"})
    assert response.status_code == 400


def test_labels_and_metric_names(client, world, store):
    headers = bearer(world.owner)
    assert get(client, "labels", headers).json()["data"] == [
        "__name__",
        "instance",
        "job",
        "steward_device",
        "steward_org",
    ]
    assert get(client, "label/__name__/values", headers).json()["data"] == ["node_load1"]
    response = get(client, "label/instance/values", headers, **{"match[]": "nothing_here"})
    assert response.json()["data"] == []
    assert get(client, "label/in-valid/values", headers).status_code == 400


def test_metadata(client, world, store):
    data = get(client, "metadata", bearer(world.owner)).json()["data"]
    assert data == {"node_load1": [{"type": "gauge", "help": "1m load", "unit": ""}]}


def test_buildinfo_reports_a_prometheus_version(client, world, store):
    response = get(client, "status/buildinfo", bearer(world.viewer))
    data = response.json()["data"]
    assert data["version"] == "2.45.0"
    assert json.loads(response.content)["status"] == "success"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (-2.5, "-2.5"),
        (-0.0, "-0"),  # Prometheus answers "-0" for `-0` and `0 * -1`
        (0.0, "0"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_values_are_formatted_like_go(value, text):
    assert prom_api.format_value(value) == text
