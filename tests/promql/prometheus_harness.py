"""A real Prometheus on loopback, backfilled with our samples: the oracle for the engine.

Debian's ``prometheus`` package (2.42 in bookworm) brings ``prometheus`` and ``promtool``.
Samples are written as OpenMetrics text and turned into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics``; the server then serves them read-only. Backfilled blocks
must not overlap the head block of a running server, so the data set ends hours before
"now" and the server starts after the blocks exist (its head is then empty).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

Point = tuple[int, float]  # (ms, value)
SeriesPoints = tuple[dict[str, str], list[Point]]


def binaries_missing() -> str | None:
    """Why the oracle cannot run here (None when it can)."""
    missing = [b for b in ("prometheus", "promtool") if shutil.which(b) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian package: prometheus)"
    return None


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(series: Iterable[SeriesPoints], path: Path) -> int:
    """OpenMetrics text: one metric family after another (they must not interleave)."""
    by_name: dict[str, list[SeriesPoints]] = {}
    for labels, points in series:
        by_name.setdefault(labels["__name__"], []).append((labels, points))
    count = 0
    with path.open("w") as out:
        for name, members in by_name.items():
            for labels, points in members:
                inner = ",".join(
                    f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__"
                )
                head = f"{name}{{{inner}}} "
                out.writelines(
                    f"{head}{_format_value(v)} {t // 1000}.{t % 1000:03d}\n" for t, v in points
                )
                count += len(points)
        out.write("# EOF\n")
    return count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A running server; ``query``/``query_range`` return the decoded ``data`` object."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self, path: str, params: dict[str, str]) -> dict:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as resp:  # noqa: S310 - loopback
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise PrometheusError(body.get("errorType", ""), body.get("error", ""))
        return body["data"]

    def query(self, expr: str, time_ms: int) -> dict:
        return self._get("/api/v1/query", {"query": expr, "time": f"{time_ms / 1000:.3f}"})

    def query_range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> dict:
        return self._get(
            "/api/v1/query_range",
            {
                "query": expr,
                "start": f"{start_ms / 1000:.3f}",
                "end": f"{end_ms / 1000:.3f}",
                "step": f"{step_ms / 1000:.3f}",
            },
        )


class PrometheusError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@contextmanager
def running_prometheus(
    series: Iterable[SeriesPoints], workdir: Path, startup_timeout: float = 60.0
) -> Iterator[Prometheus]:
    """Backfill ``series`` into a fresh TSDB and serve it on 127.0.0.1 until exit."""
    om = workdir / "data.om"
    write_openmetrics(series, om)
    data = workdir / "tsdb"
    data.mkdir()
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
            "--query.lookback-delta=5m",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GOMAXPROCS": "2"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not become ready")
            time.sleep(0.2)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def normalize_prometheus(data: dict) -> tuple[str, dict]:
    """``data`` of an HTTP response as (resultType, {label key: [(ms, value)]})."""
    kind = data["resultType"]
    result = data["result"]
    if kind == "scalar":
        return kind, {(): [(round(result[0] * 1000), float(result[1]))]}
    if kind == "string":
        return kind, {(): [(round(result[0] * 1000), result[1])]}
    out: dict = {}
    for item in result:
        key = tuple(sorted(item["metric"].items()))
        points = item.get("values") or [item["value"]]
        out[key] = [(round(t * 1000), float(v)) for t, v in points]
    return kind, out
