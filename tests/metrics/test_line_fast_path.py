"""Line protocol's fast path (``linefast``): known series skip the general path, same results.

These run against the real SQLite store (the fast path needs ``series_id`` and
``append_resolved``, which the in-memory test store does not have).
"""

from __future__ import annotations

import itertools

import pytest
from django.test import Client

from steward.metrics import ingest, linefast
from steward.metrics.store import set_store_for_tests
from steward.tsdb import open_store
from steward.tsdb.types import Matcher, MatchOp, Tier
from tests.server.conftest import bearer

pytestmark = pytest.mark.django_db

T_S = 1764390600  # seconds
T_MS = T_S * 1000


@pytest.fixture
def real_store(open_real_store):
    return open_real_store(clock=lambda: T_MS + 60_000)


def write(world, body: str):
    return Client().post(
        "/api/v1/write?precision=s",
        data=body.encode(),
        content_type="text/plain",
        **bearer(world.technician),
    )


def points(store, name: str) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    found = store.select(
        None, [Matcher("__name__", MatchOp.EQ, name)], T_MS - 60_000, T_MS + 60_000, Tier.RAW
    )
    return {
        tuple(sorted(s.labels.items())): dict(zip(s.timestamps, s.values, strict=True))
        for s in found
    }


def test_a_known_prefix_is_stored_by_id_with_the_same_labels(world, real_store):
    assert write(world, f"cpu,host=nas,cpu=cpu0 idle=99.5,user=0.5 {T_S}").status_code == 204
    table = ingest.line_series.table(world.acme.pk, "acme", ingest.devices.for_org(world.acme.pk))
    assert set(table["cpu,host=nas,cpu=cpu0"]) == {"idle", "user"}
    appended = []
    real = real_store.append_resolved

    def spy(org_id, rows, samples=()):
        samples = list(samples)
        appended.append((list(rows), samples))
        return real(org_id, rows, samples)

    real_store.append_resolved = spy
    assert write(world, f"cpu,host=nas,cpu=cpu0 idle=98,user=2 {T_S + 10}").status_code == 204
    [(rows, samples)] = appended
    assert len(rows) == 2 and samples == []  # no label dicts built
    [(labels, values)] = points(real_store, "cpu_idle").items()
    assert dict(labels) == {
        "__name__": "cpu_idle",
        "cpu": "cpu0",
        "host": "nas",
        "instance": "nas",
        "job": "telegraf",
        "steward_org": "acme",
    }
    assert values == {T_MS: 99.5, T_MS + 10_000: 98.0}


def test_lines_the_fast_path_cannot_vouch_for_get_the_general_parsers_answer(world, real_store):
    write(world, f"cpu,host=nas idle=1,count=1i {T_S}")
    response = write(
        world,
        f"cpu,host=nas idle=2 {T_S + 10}\n"  # fast
        f"cpu,host=nas idle=1_0 {T_S + 20}\n"  # float() would take it: line protocol not
        f"cpu,host=nas count=2i {T_S + 30}\n"  # integer: general path
        f"cpu,host=nas idle=abc {T_S + 40}\n"
        f'cpu,host=nas idle=3,note="x y" {T_S + 50}\n',  # string field: skipped, counted
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "line 2: invalid field value '1_0'",
        "code": "invalid_line",
        "accepted": 3,
        "rejected": 2,
        "samples_accepted": 3,
        "samples_duplicate": 0,
        "samples_rejected": 0,
        "strings_skipped": 1,
    }
    assert list(points(real_store, "cpu_idle").values()) == [
        {T_MS: 1.0, T_MS + 10_000: 2.0, T_MS + 50_000: 3.0}
    ]
    assert list(points(real_store, "cpu_count").values()) == [{T_MS: 1.0, T_MS + 30_000: 2.0}]


def test_a_replayed_body_counts_duplicates_on_the_fast_path_too(world, real_store):
    body = f"mem,host=nas used=1,free=2 {T_S}"
    write(world, body)
    response = Client().post(
        "/api/v1/write?precision=s&org=acme",
        data=(body + "\nmem,host=nas used=1,free=2 bad").encode(),
        content_type="text/plain",
        **bearer(world.technician),
    )
    assert response.json()["samples_duplicate"] == 2


def test_a_refreshed_device_map_starts_a_new_table(world, real_store):
    write(world, f"mem,host=acme-ws-01 used=1 {T_S}")
    [labels] = points(real_store, "mem_used")
    assert ("steward_device", str(world.acme_device.pk)) in labels
    ingest.devices.clear()  # what the refresh after metrics_device_cache_seconds does
    world.acme_device.hostname = "renamed"
    world.acme_device.save()
    write(world, f"mem,host=acme-ws-01 used=2 {T_S + 10}")
    # The host no longer names a device: an organization-level series, not the old one.
    assert sorted(len(v) for v in points(real_store, "mem_used").values()) == [1, 1]


def test_a_crlf_body_is_stored_and_refused_exactly_like_its_lf_twin(world, tmp_path):
    # Windows senders end lines with CRLF; the general parser strips the CR.
    teach = f"cpu,host=nas idle=1,user=2 {T_S}\nmem,host=nas used=1 {T_S}"
    lines = [
        f"cpu,host=nas idle=2,user=3 {T_S + 10}",  # known prefix, its template
        f"cpu,host=nas user=4,idle=5 {T_S + 20}",  # known prefix, other order
        f"mem,host=nas used=2 {T_S + 10}",
        f"cpu,host=nas idle=abc {T_S + 30}",  # refused: the error names line 4
        f"cpu,host=nas count=2i {T_S + 30}",  # integer: general path
        f"disk,host=nas free=7 {T_S + 10}",  # new series: general path
        "",
        "cpu,host=nas idle=6 bad",
        f"mem,host=nas used=3 {T_S + 20}",
        f"cpu,host=nas idle=7,user=8 {T_S + 40}   ",  # trailing blanks: general path
    ]
    answers = []
    for eol in ("\n", "\r\n"):
        store = open_store(tmp_path / f"{len(eol)}.sqlite3", clock=lambda: T_MS + 60_000)
        set_store_for_tests(store)
        ingest.line_series.clear()
        try:
            assert write(world, teach.replace("\n", eol)).status_code == 204
            response = write(world, eol.join(lines) + eol)
            stored = {n: points(store, n) for n in ("cpu_idle", "cpu_user", "mem_used")}
            stored |= {n: points(store, n) for n in ("cpu_count", "disk_free")}
            answers.append((response.status_code, response.json(), stored))
        finally:
            ingest.line_series.clear()
            store.close()
    lf, crlf = answers
    assert crlf == lf
    assert lf[1]["detail"] == "line 4: invalid field value 'abc'"
    assert (lf[1]["accepted"], lf[1]["rejected"]) == (7, 2)
    assert lf[2]["cpu_idle"] and lf[2]["disk_free"]


# --- split_known, pure ------------------------------------------------------------------


def split(
    text: str, known: linefast.PrefixTable, mul: int, div: int, templates=None
) -> tuple[list[tuple[int, int, float]], list[tuple[int, str]], int]:
    """``split_known`` with its columns as row tuples, after checking their invariants:
    equal column lengths, runs that start at row 0, strictly increasing, never empty, and
    a new run only where the timestamp changes (fewest runs)."""
    cols, rest, fast = linefast.split_known(text, known, mul, div, templates)
    assert len(cols.ids) == len(cols.values)
    starts = [start for start, _ in cols.runs]
    if cols.ids:
        assert starts[0] == 0
        assert all(a < b for a, b in zip(starts, [*starts[1:], len(cols.ids)], strict=True))
        stamps = [ts for _, ts in cols.runs]
        assert all(a != b for a, b in itertools.pairwise(stamps))
    else:
        assert cols.runs == []
    return cols.rows(), rest, fast


KNOWN = {"m,host=a": {"x": 1, "y": 2}}


@pytest.mark.parametrize(
    "line",
    [
        "m,host=a x=1i 5",  # integer
        "m,host=a x=t 5",  # boolean
        'm,host=a x="s" 5',  # string
        "m,host=a x=1",  # no timestamp: the server's clock
        "m,host=a x=1 -5",  # negative timestamp
        "m,host=a x=1 5\r\r",  # more than a CRLF's CR
        "m,host=a x=1 \r",
        "m,host=a z=1 5",  # unknown field
        "m,host=a x=\u0661 5",  # non-ASCII digit (ARABIC-INDIC ONE)
        "m,host=a x=. 5",
        "m,host=a x=1,x 5",
        " m,host=a x=1 5",
        "m,host=b x=1 5",
        "",
        "# m,host=a x=1 5",
    ],
)
def test_split_known_leaves_anything_unusual_to_the_general_parser(line):
    rows, rest, fast = split(line, KNOWN, 1, 1)
    assert (rows, rest, fast) == ([], [(1, line)], 0)


def test_split_known_takes_crlf_lines_as_it_takes_lf_lines():
    body = "m,host=a x=1.5,y=-2e3 7000000\nbad\nm,host=a y=.5 8000000\nm,host=a x=1i 9000000\n"
    lf_templates: linefast.Templates = {}
    crlf_templates: linefast.Templates = {}
    for _ in range(2):  # first the loop, then the template each pass learned
        lf = split(body, KNOWN, 1, 1_000_000, lf_templates)
        crlf = split(body.replace("\n", "\r\n"), KNOWN, 1, 1_000_000, crlf_templates)
        assert crlf_templates == lf_templates
        assert crlf[0] == lf[0] == [(1, 7, 1.5), (2, 7, -2000.0), (2, 8, 0.5)]
        assert crlf[2] == lf[2] == 2  # the same lines took the fast path
        # The rest keeps its CRs for the general parser, which strips them.
        assert crlf[1] == [(n, f"{text}\r") for n, text in lf[1][:-1]] + [(5, "")]
        assert lf[1] == [(2, "bad"), (4, "m,host=a x=1i 9000000"), (5, "")]


def test_split_known_converts_precision_and_keeps_line_numbers():
    rows, rest, fast = split(
        "m,host=a x=1.5,y=-2e3 7000000\nbad\nm,host=a y=.5 8000000", KNOWN, 1, 1_000_000
    )
    assert rows == [(1, 7, 1.5), (2, 7, -2000.0), (2, 8, 0.5)]
    assert (rest, fast) == ([(2, "bad")], 2)


LEARNED = "m,host=a x=1,y=2 5"  # teaches the template "x=...,y=..." for m,host=a


@pytest.mark.parametrize(
    "line",
    [
        "m,host=a x=1.5,y=-2e3 7",  # the template's own shape
        "m,host=a y=2,x=1 7",  # other order: the loop
        "m,host=a x=1 7",  # a subset: the loop
        "m,host=a x=1,y=2,x=3 7",
        "m,host=a x=1-2,y=1 7",  # the pattern takes it, float() does not
        "m,host=a x=1,y=1e5e5 7",  # ... after a good value: that row is taken back
        "m,host=a x=1e5,y=+.5 7",
        "m,host=a x=1i,y=2 7",
        "m,host=a x=1_0,y=2 7",
        "m,host=a x=\u0661,y=2 7",
        "m,host=a x=.,y=2 7",
        "m,host=a x=1,y=2",
        "m,host=a x=1,y=2 -7",
        "m,host=a x=1,y=2 7\r",
        'm,host=a x=1,y="2" 7',
        "m,host=a x=inf,y=2 7",
        "m,host=a x=1e,y=2 7",
    ],
)
def test_a_learned_template_decides_every_line_as_the_loop_does(line):
    templates: linefast.Templates = {}
    split(LEARNED, KNOWN, 1, 1, templates)
    assert set(templates) == {"m,host=a"}
    rows, rest, fast = split(f"{LEARNED}\n{line}", KNOWN, 1, 1, templates)
    # The line alone, with a table of its own: no template yet, so the loop decides.
    loop_rows, loop_rest, loop_fast = split(line, KNOWN, 1, 1, {})
    assert rows == [(1, 5, 1.0), (2, 5, 2.0), *loop_rows]
    assert rest == [(2, text) for _, text in loop_rest]
    assert fast == 1 + loop_fast


def test_the_template_follows_the_last_good_shape_of_a_prefix():
    templates: linefast.Templates = {}
    rows, _, fast = split(
        "m,host=a x=1,y=2 5\nm,host=a y=3,x=4 6\nm,host=a y=5,x=6 7", KNOWN, 1, 1, templates
    )
    assert rows == [(1, 5, 1.0), (2, 5, 2.0), (2, 6, 3.0), (1, 6, 4.0), (2, 7, 5.0), (1, 7, 6.0)]
    assert fast == 3
    assert templates["m,host=a"][1] == (2, 1)


def test_prefix_of_refuses_lines_with_escapes():
    assert linefast.prefix_of("m,host=a x=1 5\r") == "m,host=a"
    assert linefast.prefix_of(r"m,host=a\ b x=1 5") is None
    assert linefast.prefix_of('m x="a" 5') is None


def test_the_table_is_dropped_when_the_generation_or_the_slug_changes():
    cache = linefast.LineSeriesCache()
    generation = object()
    table = cache.table(1, "acme", generation)
    table["p"] = {"f": 1}
    assert cache.table(1, "acme", generation) is table
    assert cache.table(1, "acme-renamed", generation) == {}
    assert cache.table(1, "acme-renamed", object()) == {}


def test_a_body_decides_each_timestamp_as_a_line_alone_would():
    # The stamp's checks and conversion are cached per distinct text: a bad stamp after
    # a good one, a good one after a bad, and equal values in other spellings.
    lines = [
        "m,host=a x=1 5000",
        "m,host=a x=2 5000",
        "m,host=a x=3 05000",
        "m,host=a x=4 -5000",
        "m,host=a x=5 5000",
        "m,host=a x=6 \u0665000",
        "m,host=a x=7 6999",
        "m,host=a x=8 5000",
    ]
    rows, rest, fast = split("\n".join(lines), KNOWN, 1, 1_000)
    alone = [split(line, KNOWN, 1, 1_000) for line in lines]
    assert rows == [row for one_rows, _, _ in alone for row in one_rows]
    assert rest == [(n, text) for n, (_, r, _) in enumerate(alone, 1) for _, text in r]
    assert fast == sum(f for _, _, f in alone) == 6
    assert [ts for _, ts, _ in rows] == [5, 5, 5, 5, 6, 5]
