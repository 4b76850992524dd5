"""Rules on pushed metrics see every sample on arrival, also on the line-protocol fast path."""

from __future__ import annotations

import time

import pytest

from steward.alerts import runtime, yamlio
from steward.alerts.models import Alert
from tests.metrics.test_line_protocol_api import write
from tests.server.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def real_store(open_real_store):
    return open_real_store()


RULE = """
rules:
  - name: Queue too long
    kind: threshold
    metric: queue_depth
    op: ">"
    threshold: 100
    severity: warning
"""


def test_a_threshold_on_a_pushed_metric_fires_on_arrival(world, real_store):
    yamlio.apply(RULE, world.acme.pk)
    auth = bearer(world.technician)
    now_ns = time.time_ns()
    for n, depth in enumerate((5, 7, 9)):  # the series becomes known to the fast path
        response = write(f"queue,host=mq depth={depth} {now_ns + n * 10**9}\n", headers=auth)
        assert response.status_code == 204, response.content
    assert runtime.settle()  # samples are judged within a fraction of a second
    assert not Alert.objects.filter(organization=world.acme).exists()
    response = write(f"queue,host=mq depth=250 {now_ns + 5 * 10**9}\n", headers=auth)
    assert response.status_code == 204
    assert runtime.settle()
    alert = Alert.objects.get(organization=world.acme)
    assert alert.status == "firing" or alert.phase in ("firing", "pending")
