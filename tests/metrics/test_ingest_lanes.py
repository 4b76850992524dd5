"""Ingest threads come in lanes: heartbeats (presence) do not queue behind metrics batches.

A metrics batch can wait for the metrics store's write lock (the worker's compaction holds
it for tenths of a second per step); on shared threads every heartbeat queued behind such
batches, and with 1,000 simulated devices devices were recorded offline while their
heartbeats waited in the server.
"""

from __future__ import annotations

import asyncio
import threading

from steward.metrics import ingest


def test_a_heartbeat_is_not_held_up_by_busy_store_threads() -> None:
    release = threading.Event()

    async def scenario() -> tuple[str, bool]:
        busy = [
            asyncio.ensure_future(ingest.in_ingest_thread(release.wait, 30))
            for _ in range(ingest.INGEST_THREADS)
        ]
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(ingest.in_ingest_thread(str, "batch"))
        try:
            answer = await asyncio.wait_for(
                ingest.in_ingest_thread(str, "heartbeat", lane=ingest.PRESENCE_LANE), 10
            )
            batch_waiting = not queued.done()
        finally:
            release.set()
        await asyncio.gather(*busy, queued)
        return answer, batch_waiting

    answer, batch_waiting = asyncio.run(scenario())
    assert answer == "heartbeat"
    assert batch_waiting  # the store lane really was full


def test_lanes_have_their_own_named_threads() -> None:
    async def names() -> tuple[str, str]:
        store = await ingest.in_ingest_thread(lambda: threading.current_thread().name)
        presence = await ingest.in_ingest_thread(
            lambda: threading.current_thread().name, lane=ingest.PRESENCE_LANE
        )
        return store, presence

    store, presence = asyncio.run(names())
    assert store.startswith("steward-ingest-store")
    assert presence.startswith("steward-ingest-presence")
