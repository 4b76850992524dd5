"""Lossless delivery through a server outage, end to end with a real agent process.

Usage (from the repository root)::

    .venv/bin/python bench/spool.py [--interval 1] [--outage 60] [--after 30]

Runs ``steward agent run`` (``python -m steward.agent``) at ``--interval`` seconds
against a loopback fake server, stops the server for ``--outage`` seconds (60 rounds at
1 s stand for 10 minutes of data at the default 10 s), starts it again on the same port
and waits until the spool has drained, then stops the agent (which spools its last open
batch) and checks, from the batches the server received plus what is left in the spool:
every round arrived exactly once, and none is missing (``node_time_seconds`` values are
one per round). Prints counts, replay time and spooled bytes per batch.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.agent.fake_server import (  # noqa: E402
    CREDENTIAL,
    HEARTBEAT,
    METRICS,
    FakeServer,
    MetricsSink,
    Reply,
    free_port,
)

from steward.agent.spool import Spool  # noqa: E402
from steward.agent.state import AgentState, save_state  # noqa: E402


def round_times(body: dict[str, Any]) -> list[int]:
    """The timestamps of a batch's rounds (node_time_seconds has one point per round)."""
    return [
        point[0]
        for family in body["families"]
        if family["name"] == "node_time_seconds"
        for series in family["series"]
        for point in series["points"]
    ]


def serve(port: int) -> FakeServer:
    server = FakeServer(port=port)
    server.routes[HEARTBEAT] = Reply(200, {"heartbeat_interval": 10, "inventory_interval": 3600})
    server.routes[METRICS] = MetricsSink()
    return server.__enter__()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the server is down")
    parser.add_argument("--before", type=float, default=15.0, help="seconds up before")
    parser.add_argument("--after", type=float, default=20.0, help="seconds up after draining")
    args = parser.parse_args()
    port = free_port()
    received: dict[str, Any] = {}
    duplicates = 0
    with tempfile.TemporaryDirectory(prefix="steward-spool-") as tmp:
        state_dir = Path(tmp)
        save_state(AgentState(f"http://127.0.0.1:{port}", 17, CREDENTIAL), state_dir)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = serve(port)
        agent = subprocess.Popen(
            [sys.executable, "-m", "steward.agent", "run", "--state-dir", str(state_dir),
             "--interval", f"{args.interval:g}"],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(args.before)
        sink: MetricsSink = server.routes[METRICS]  # type: ignore[assignment]
        print(f"server up {args.before:g} s: {len(sink.batches)} batches received")
        server.__exit__(None, None, None)
        received.update(sink.batches)
        duplicates += sink.duplicate_batches
        print(f"server down for {args.outage:g} s ...", flush=True)
        time.sleep(args.outage)
        spool_dir = state_dir / "spool"
        spooled = sorted(p for p in spool_dir.glob("*.json.gz"))
        spooled_bytes = sum(p.stat().st_size for p in spooled)
        print(f"spool after the outage: {len(spooled)} batches, {spooled_bytes} bytes "
              f"({spooled_bytes / max(1, len(spooled)):.0f} bytes per batch)")  # fmt: skip
        server = serve(port)
        sink = server.routes[METRICS]  # type: ignore[assignment]
        recovered = time.monotonic()
        while list(spool_dir.glob("*.json.gz")) and time.monotonic() - recovered < 600:
            time.sleep(0.2)
        drained = time.monotonic() - recovered
        print(f"server back: spool drained in {drained:.1f} s")
        time.sleep(args.after)
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)
        server.__exit__(None, None, None)
        for batch_id, body in sink.batches.items():
            if batch_id in received:
                duplicates += 1
            received[batch_id] = body
        duplicates += sink.duplicate_batches
        left = Spool(spool_dir)
        leftover = [left.read(entry) for entry in left.entries()]
        stderr = agent.stderr.read() if agent.stderr else ""
    times = Counter(ts for body in received.values() for ts in round_times(body))
    left_times = Counter(ts for body in leftover for ts in round_times(body))
    all_times = sorted(set(times) | set(left_times))
    repeated = sum(1 for count in (times + left_times).values() if count > 1)
    gaps = sum(
        1 for a, b in itertools.pairwise(all_times) if b - a > 1.5 * args.interval * 1000
    )  # fmt: skip
    samples = sum(
        len(series["points"])
        for body in received.values()
        for family in body["families"]
        for series in family["series"]
    )
    dropped = max(
        (body["agent_stats"]["spool_dropped_samples"] for body in received.values()), default=0
    )
    print()
    print(f"rounds collected (received + left in spool at stop): {len(all_times)}")
    print(f"rounds received by the server: {len(times)}; left in the spool: {len(left_times)}")
    print(f"samples received: {samples} in {len(received)} batches")
    print(f"rounds received more than once: {repeated}; duplicate batches: {duplicates}")
    print(f"gaps between consecutive rounds (> 1.5 intervals): {gaps}")
    print(f"samples reported dropped by the agent: {dropped}")
    ok = repeated == 0 and gaps == 0 and dropped == 0 and duplicates == 0
    print("RESULT:", "every round arrived exactly once" if ok else "LOSS OR DUPLICATION")
    if not ok:
        print(stderr[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
