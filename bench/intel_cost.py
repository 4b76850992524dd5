"""What continuous anomaly scoring costs: 1,000 devices x 50 series at a 10 s interval.

Builds a throw-away SQLite Django database and metrics store, writes ``--warmup`` minutes
of samples and scores them (creates every DetectorState), then runs ``--rounds`` steady
rounds: append ``--every`` seconds of new samples (as the agents would), run one scoring
job, and report per round:

* job duration (wall) and CPU time; samples scored per second per core (CPU time);
* where the time goes: store reads, detector updates, state saves (profiled once);
* bytes per series: the DetectorState row's state + window + verdict + labels columns;
* what restoring and storing one detector state costs (``from_bytes``/``to_bytes``).

The store's ingest of the new samples is *not* counted (ingest has its own bench).

    .venv/bin/python bench/intel_cost.py [--devices 1000] [--series 50] [--rounds 3]

``--series`` is split into 10 gauge families (``bench_fam_0..9``) per device; add
``--counters`` to make half of them counters (scored as rates). ``--retired N``: the
first N devices stop sending an hour before the rounds (retired machines, whose states
stay behind; the warm-up is then 15 minutes scored, then an hour without them, scored):
the rounds show whether those states slow the scoring of the others.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HOME = tempfile.mkdtemp(prefix="steward-bench-")
atexit.register(shutil.rmtree, HOME, True)  # the scratch database and store go with the run
os.environ.setdefault("STEWARD_HOME", HOME)
os.environ.setdefault("STEWARD_LOG_LEVEL", "warning")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")

STEP_MS = 10_000
FAMILIES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--series", type=int, default=50, help="series per device")
    parser.add_argument("--warmup", type=int, default=2, help="minutes scored first")
    parser.add_argument("--every", type=int, default=30, help="seconds between jobs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--counters", action="store_true")
    parser.add_argument("--retired", type=int, default=0, help="devices silent for the last hour")
    parser.add_argument("--profile", action="store_true", help="cProfile one round")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "steward.insights" not in settings.INSTALLED_APPS:
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "steward.insights"]
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from steward.insights import scoring
    from steward.insights.models import DetectorState
    from steward.intel import StreamDetector
    from steward.tenancy.models import Organization
    from steward.tsdb import open_store
    from steward.tsdb.types import MetricType, Sample, SeriesMetadata

    now = {"ms": (int(time.time() * 1000) // 60_000) * 60_000 - 3_600_000}
    store = open_store(Path(HOME) / "metrics.sqlite3", clock=lambda: now["ms"])
    org = Organization.objects.create(name="Bench")
    rng = random.Random(1)
    per_family = max(args.series // FAMILIES, 1)
    labels = []
    for d in range(1, args.devices + 1):
        for f in range(FAMILIES):
            for k in range(per_family):
                labels.append(
                    {
                        "__name__": f"bench_fam_{f}_total"
                        if args.counters and f % 2
                        else f"bench_fam_{f}",
                        "steward_device": str(d),
                        "steward_org": org.slug,
                        "instance": f"host-{d}",
                        "job": "steward",
                        "item": str(k),
                    }
                )
    if args.counters:
        store.set_metadata(
            org.pk,
            [
                SeriesMetadata(f"bench_fam_{f}_total", MetricType.COUNTER, "", "")
                for f in range(1, FAMILIES, 2)
            ],
        )
    level = [rng.uniform(10, 1000) for _ in labels]
    total = [0.0] * len(labels)

    retired = {str(d) for d in range(1, args.retired + 1)}

    def write(start_ms: int, end_ms: int, warm_up: bool = False) -> int:
        count = 0
        batch: list[Sample] = []
        for ts in range(start_ms, end_ms, STEP_MS):
            for i, lab in enumerate(labels):
                if not warm_up and lab["steward_device"] in retired:
                    continue
                v = level[i] * (1 + 0.05 * rng.random())
                if lab["__name__"].endswith("_total"):
                    total[i] += v
                    v = total[i]
                batch.append(Sample(lab, ts, round(v, 2)))
            if len(batch) >= 50_000:
                store.append(org.pk, batch)
                count += len(batch)
                batch = []
        store.append(org.pk, batch)
        return count + len(batch)

    print(
        f"{args.devices} devices x {len(labels) // args.devices} series = {len(labels):,} "
        f"series; a job every {args.every} s; {args.retired} silent for an hour"
    )
    start = now["ms"]
    t = time.perf_counter()
    if retired:  # everyone for 15 min (scored: their states), then an hour without them
        early = start - 60 * 60_000
        written = write(early - 15 * 60_000, early, warm_up=True)
        scoring.score_organization(store, org.pk, org.slug, early)
        written += write(early, start)
    else:
        written = write(start - args.warmup * 60_000, start, warm_up=True)
    print(f"warm-up data: {written:,} samples in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    warm = scoring.score_organization(store, org.pk, org.slug, start)
    print(
        f"warm-up job: {warm.samples:,} samples, {warm.new_series:,} new states, "
        f"{time.perf_counter() - t:.1f} s"
    )

    for r in range(args.rounds):
        end = now["ms"] + args.every * 1000
        write(now["ms"], end)
        now["ms"] = end
        wall, cpu = time.perf_counter(), time.process_time()
        if args.profile and r == args.rounds - 1:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            res = scoring.score_organization(store, org.pk, org.slug, end)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(18)
        else:
            res = scoring.score_organization(store, org.pk, org.slug, end)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"round {r + 1}: {res.samples:,} samples of {res.series:,} series in {wall:.2f} s "
            f"(cpu {cpu:.2f} s): {res.samples / cpu:,.0f} samples/s/core, "
            f"{res.series / cpu:,.0f} series/s/core; wrote {res.written:,} samples, "
            f"lost races {res.lost_races}"
        )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), avg(length(state)), avg(length(window)), "
            "avg(length(last_verdict)), avg(length(labels)) FROM insights_detectorstate"
        )
        n, state, window, verdict, labs = cursor.fetchone()
    per_row = state + window + verdict + labs + 8 * 6  # + id, org, cursor, raw, score, time
    print(
        f"states: {n:,}; bytes per series: state {state:.0f} + window {window:.0f} + "
        f"verdict {verdict:.0f} + labels {labs:.0f} + fixed ~48 = ~{per_row:.0f} "
        f"(x {n:,} = {per_row * n / 2**20:.0f} MiB before SQLite overhead)"
    )
    state = bytes(DetectorState.objects.values_list("state", flat=True).first())
    det = StreamDetector.from_bytes(state)
    loops = 2000
    restore = min(timeit.repeat(lambda: StreamDetector.from_bytes(state), number=loops, repeat=5))
    store_ = min(timeit.repeat(det.to_bytes, number=loops, repeat=5))
    print(
        f"one state: from_bytes {restore / loops * 1e6:.1f} us, "
        f"to_bytes {store_ / loops * 1e6:.1f} us (per series per run)"
    )
    db = Path(settings.DATABASES["default"]["NAME"])
    print(f"Django database file: {db.stat().st_size / 2**20:.0f} MiB")
    arriving = len(labels) * 1000 / STEP_MS
    print(
        f"samples arrive at {arriving:,.0f}/s; one core scores {res.samples / cpu:,.0f}/s "
        f"({res.samples / cpu / arriving:.0f}x headroom, CPU only)"
    )


if __name__ == "__main__":
    main()
