"""Simulated devices posting healthy check results, for bench/alert_latency.py.

    python bench/_alert_load.py SPEC.json   (stop with SIGTERM: prints a JSON summary)

A process of its own, so the devices' client work does not compete for the bench agent's
GIL (real devices are other machines), written like ``steward simulate``: asyncio, one
keep-alive connection pool with at most ``concurrency`` requests in flight, every device
ticking at its own offset within ``period`` (no thundering herd), and a device that falls
behind skips ticks instead of queueing them. SPEC: ``{"base", "sims": [[secret, check_id],
...], "period", "concurrency"}``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import time
from datetime import UTC, datetime

import httpx


async def main(spec: dict) -> dict:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    period = float(spec["period"])
    sims = spec["sims"]
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    took: list[float] = []
    limits = httpx.Limits(max_connections=spec["concurrency"], max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=spec["base"], limits=limits, timeout=30) as client:

        async def device(n: int, secret: str, check_id: int) -> None:
            headers = {"Authorization": f"Bearer {secret}"}
            next_at = time.monotonic() + period * n / len(sims)
            while not stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                        return
                    except TimeoutError:
                        pass
                now = datetime.now(UTC).isoformat()
                body = {
                    "sent_at": now,
                    "results": [
                        {"check_id": check_id, "status": "ok", "message": "ok", "observed_at": now}
                    ],
                }
                started = time.monotonic()
                try:
                    r = await client.post("/api/v1/agent/check-results", json=body,
                                          headers=headers)  # fmt: skip
                    r.raise_for_status()
                    counts["ok"] += 1
                    took.append(time.monotonic() - started)
                except httpx.HTTPError:
                    counts["failed"] += 1
                next_at += period
                while next_at < time.monotonic():  # behind: skip ticks, never queue them
                    next_at += period
                    counts["skipped"] += 1

        tasks = [asyncio.create_task(device(n, s, pk)) for n, (s, pk) in enumerate(sims)]
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    took.sort()
    if took:
        counts["p50_ms"] = round(statistics.median(took) * 1000, 1)
        counts["p95_ms"] = round(took[int(0.95 * (len(took) - 1))] * 1000, 1)
    return counts


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        result = asyncio.run(main(json.load(f)))
    print(json.dumps(result), flush=True)
