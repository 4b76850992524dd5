"""A real Prometheus (Debian's ``prometheus`` package) remote-writing to a live Steward.

Slow: starts a Prometheus process that scrapes itself every second and remote-writes to
the test server; skipped when ``prometheus`` is not installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from tests.server.conftest import bearer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_prometheus_remote_write_lands_in_the_store(live_server, world, metrics_store, tmp_path):
    token = bearer(world.technician)["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:{port}"]
remote_write:
  - url: {live_server.url}/api/v1/prom/write
    authorization:
      credentials: {token}
    send_exemplars: false
    metadata_config:
      send_interval: 1s
    queue_config:
      batch_send_deadline: 1s
"""
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if metrics_store.find("up", job="self") and metrics_store.meta.get(world.acme.pk):
                break
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(10)
    log = (tmp_path / "prometheus.log").read_text()
    [(labels, points)] = metrics_store.find("up", job="self")
    assert labels["instance"] == f"127.0.0.1:{port}", log[-2000:]
    assert labels["steward_org"] == "acme"
    assert 1.0 in points.values()
    assert metrics_store.find("prometheus_build_info")
    assert "prometheus_build_info" in metrics_store.meta[world.acme.pk], log[-2000:]
    assert "status=400" not in log and "non-recoverable" not in log, log[-2000:]
