"""Query-side edge cases found by review: each test failed before its fix.

Regular expressions the parser (Rust's regex crate, like Prometheus' RE2) accepts but
Python's ``re`` does not, ``atan2`` keeping the metric name, and ``topk``/``bottomk``
with a k that does not convert to an integer. The differential test checks the last two
against Prometheus as well.
"""

from __future__ import annotations

import pytest

from steward.metrics import prom_api
from steward.promql import QueryError, evaluate_instant, evaluate_range
from steward.promql.memstore import MemoryStore
from tests.server.conftest import bearer

T0 = 1_700_000_000_000  # ms
BASE = "/prometheus/api/v1"


@pytest.fixture
def mem() -> MemoryStore:
    s = MemoryStore()
    for job in ("api", "db"):
        s.append_series(1, {"__name__": "up", "job": job}, [T0], [1.0])
    return s


@pytest.mark.parametrize(
    "query",
    [
        'up{job=~"\\\\p{L}+"}',  # Unicode classes: RE2 and Rust yes, Python's re no
        'up{job!~"api\\\\z"}',
        'up{job=~"(?U)a+"}',
        '{__name__=~"\\\\p{Lu}.*"}',
    ],
)
def test_a_regex_python_cannot_compile_is_a_query_error_not_a_crash(mem, query):
    with pytest.raises(QueryError) as caught:
        evaluate_instant(query, T0, mem, [1])
    assert not caught.value.execution  # bad_data (400), as a bad query is
    assert "invalid regular expression in matcher" in caught.value.message
    with pytest.raises(QueryError):
        evaluate_range(query, T0, T0 + 60_000, 15_000, mem, [1])


@pytest.mark.django_db
def test_the_http_api_answers_400_bad_data_for_such_a_regex(client, world, monkeypatch, mem):
    monkeypatch.setattr(prom_api, "get_store", lambda: mem)
    headers = bearer(world.owner)
    for path, params in (
        ("query", {"query": 'up{job=~"\\\\p{L}+"}', "time": "1700000000"}),
        ("series", {"match[]": 'up{job=~"\\\\p{L}+"}'}),
        ("label/job/values", {"match[]": 'up{job=~"\\\\p{L}+"}'}),
    ):
        response = client.get(f"{BASE}/{path}", params, **headers)
        assert response.status_code == 400, (path, response.content)
        body = response.json()
        assert (body["status"], body["errorType"]) == ("error", "bad_data")


def test_atan2_keeps_the_metric_name_as_prometheus_does(mem):
    for query in ("up atan2 up", "up atan2 0.5", "0.5 atan2 up"):
        result = evaluate_instant(query, T0, mem, [1])
        assert [s.labels.get("__name__") for s in result.series] == ["up", "up"], query
    # The other arithmetic operators still drop it.
    result = evaluate_instant("up + up", T0, mem, [1])
    assert [s.labels for s in result.series] == [{"job": "api"}, {"job": "db"}]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("topk(NaN, up)", "Scalar value NaN overflows int64"),
        ("bottomk(Inf, up)", "Scalar value +Inf overflows int64"),
        ("topk(-Inf, nothing_here)", "Scalar value -Inf overflows int64"),
        ("topk(1e19, up)", "Scalar value 1e+19 overflows int64"),
    ],
)
def test_topk_with_a_k_beyond_int64_is_an_execution_error(mem, query, message):
    with pytest.raises(QueryError) as caught:
        evaluate_instant(query, T0, mem, [1])
    assert caught.value.execution
    assert caught.value.message == message
    assert len(evaluate_instant("topk(1, up)", T0, mem, [1]).series) == 1


@pytest.mark.parametrize(
    "query", ["rate(up[1000000000y])", "up offset 1000000000y", "up[300y]", "up offset -300y"]
)
def test_a_duration_beyond_prometheus_range_is_a_query_error(mem, query):
    with pytest.raises(QueryError) as caught:
        evaluate_instant(query, T0, mem, [1])
    assert caught.value.message == "duration out of range"
    assert not caught.value.execution
    assert len(evaluate_instant("up[290y]", T0, mem, [1]).series) == 2  # still in range


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("query", {"query": "up", "time": "1e300"}, 'cannot parse "1e300" to a valid timestamp'),
        ("query", {"query": "up", "time": "-1e300"}, "to a valid timestamp"),
        (
            "query_range",
            {"query": "up", "start": "1e300", "end": "1e300", "step": "15"},
            'invalid parameter "start"',
        ),
        (
            "query_range",
            {"query": "up", "start": "0", "end": "100", "step": "1e300"},
            "It overflows int64",
        ),
        ("query", {"query": "rate(up[1000000000y])", "time": "1"}, "duration out of range"),
    ],
)
def test_out_of_range_times_and_durations_are_400_not_500(
    client, world, monkeypatch, mem, path, params, message
):
    monkeypatch.setattr(prom_api, "get_store", lambda: mem)
    client.raise_request_exception = False
    response = client.get(f"{BASE}/{path}", params, **bearer(world.owner))
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "bad_data")
    assert message in body["error"]


@pytest.mark.django_db
def test_an_unexpected_failure_keeps_prometheus_error_envelope(client, world, monkeypatch):
    class Broken(MemoryStore):
        def label_names(self, org_ids, matchers):
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(prom_api, "get_store", lambda: Broken())
    response = client.get(f"{BASE}/labels", **bearer(world.owner))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "internal")
    assert "disk on fire" not in body["error"]  # details go to the log, not the client


@pytest.mark.parametrize(
    ("query", "jobs"),
    [
        ('up{job=~"[[:alpha:]]+"}', ["api", "db"]),
        ('up{job=~"[[:lower:]]{2}"}', ["db"]),
        ('up{job!~"[[:upper:][:digit:]]+"}', ["api", "db"]),
        ('up{job=~"[^[:digit:]]pi"}', ["api"]),
        ('up{job=~"[[:xdigit:]]+"}', ["db"]),
        ('up{job=~"[]a]pi"}', ["api"]),  # a leading ']' is a literal, as in RE2
        ('up{job=~"[:alpha:]pi"}', ["api"]),  # outside brackets: the set of ":alph"
    ],
)
def test_posix_classes_match_as_in_prometheus(mem, query, jobs):
    result = evaluate_instant(query, T0, mem, [1])
    assert [s.labels["job"] for s in result.series] == jobs


def test_a_negated_posix_class_is_refused_rather_than_mismatched(mem):
    with pytest.raises(QueryError, match=r"POSIX class \[:\^alpha:\] is not supported"):
        evaluate_instant('up{job=~"[[:^alpha:]]+"}', T0, mem, [1])
