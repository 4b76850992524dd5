"""Grouping: one page per problem, batched follow-ups, decaying reminders."""

from __future__ import annotations

from steward.alerting import (
    AlertNotice,
    Grouper,
    GroupTiming,
    NotificationKind,
    NotificationPolicy,
)
from steward.alerting.routing import NoticeStatus

GROUP_BY = ("alertname", "site")


def notice(i: int, status=NoticeStatus.FIRING, site="paris") -> AlertNotice:
    labels = {"alertname": "DeviceOffline", "site": site, "device": f"d{i:02}"}
    return AlertNotice(f"fp{i:02}", "offline", labels, status, starts_at=float(i))


def grouper(**timing) -> Grouper:
    return Grouper({"ops": NotificationPolicy("ops", ("pager",), GroupTiming(**timing))})


def test_fifty_devices_offline_within_group_wait_page_once(clock):
    g = grouper(group_wait_s=30)
    start = clock.now
    for i in range(50):  # all within 25 s of the first
        g.add("ops", GROUP_BY, notice(i), start + i * 0.5)
        assert g.due(start + i * 0.5) == []
    notes = g.due(start + 30)
    assert len(notes) == 1
    assert notes[0].kind is NotificationKind.FIRING and len(notes[0].firing) == 50
    assert notes[0].group_labels == {"alertname": "DeviceOffline", "site": "paris"}


def test_group_wait_zero_pages_first_alert_at_once_and_batches_the_rest(clock):
    g = grouper(group_wait_s=0, group_interval_s=60)
    start = clock.now
    g.add("ops", GROUP_BY, notice(0), clock.now)
    first = g.due(clock.now)
    assert [len(n.firing) for n in first] == [1]  # zero added latency
    for i in range(1, 50):
        g.add("ops", GROUP_BY, notice(i), clock.advance(0.2))
        assert g.due(clock.now) == []
    (batch,) = g.due(start + 60)
    assert len(batch.firing) == 50 and batch.kind is NotificationKind.FIRING


def test_other_sites_are_other_groups(clock):
    g = grouper()
    g.add("ops", GROUP_BY, notice(1, site="paris"), clock.now)
    g.add("ops", GROUP_BY, notice(2, site="lyon"), clock.now)
    assert len(g.due(clock.now)) == 2


def test_resolution_is_reported_once_after_group_interval(clock):
    g = grouper(group_interval_s=60)
    g.add("ops", GROUP_BY, notice(1), clock.now)
    g.due(clock.now)
    g.add("ops", GROUP_BY, notice(1, NoticeStatus.RESOLVED), clock.advance(10))
    assert g.due(clock.now) == []
    (note,) = g.due(clock.advance(50))
    assert note.kind is NotificationKind.RESOLVED and [n.fingerprint for n in note.resolved] == [
        "fp01"
    ]
    assert g.groups == {}  # nothing left to report: the group is gone
    assert g.due(clock.advance(10_000)) == []


def test_a_blip_within_group_wait_never_pages(clock):
    g = grouper(group_wait_s=30)
    g.add("ops", GROUP_BY, notice(1), clock.now)
    g.add("ops", GROUP_BY, notice(1, NoticeStatus.RESOLVED), clock.advance(5))
    assert g.due(clock.advance(30)) == [] and g.groups == {}


def test_repeat_interval_decays_and_is_capped(clock):
    g = grouper(repeat_interval_s=3600, repeat_backoff=2, repeat_max_s=4 * 3600)
    start = clock.now
    g.add("ops", GROUP_BY, notice(1), start)
    g.due(start)
    sent = []
    for minute in range(1, 16 * 60):
        for note in g.due(start + minute * 60):
            sent.append((minute // 60, note.kind))
    # reminders after 1 h, then 2 h, then 4 h (the cap), 4 h...
    assert sent == [(h, NotificationKind.REPEAT) for h in (1, 3, 7, 11, 15)]


def test_a_change_restarts_the_repeat_sequence(clock):
    g = grouper(repeat_interval_s=100, repeat_backoff=2, group_interval_s=10)
    g.add("ops", GROUP_BY, notice(1), clock.now)
    g.due(clock.now)
    assert [n.kind for n in g.due(clock.advance(100))] == [NotificationKind.REPEAT]
    g.add("ops", GROUP_BY, notice(2), clock.advance(1))
    assert [n.kind for n in g.due(clock.advance(10))] == [NotificationKind.FIRING]
    assert [n.kind for n in g.due(clock.advance(100))] == [NotificationKind.REPEAT]


def test_withdrawn_alerts_are_not_repeated_but_their_resolution_is_reported(clock):
    g = grouper(repeat_interval_s=100, group_interval_s=10)
    g.add("ops", GROUP_BY, notice(1), clock.now)
    g.due(clock.now)
    g.add("ops", GROUP_BY, notice(1, NoticeStatus.WITHDRAWN), clock.advance(1))  # acknowledged
    assert g.due(clock.advance(200)) == []
    g.add("ops", GROUP_BY, notice(1, NoticeStatus.RESOLVED), clock.advance(1))
    (note,) = g.due(clock.advance(10))
    assert note.kind is NotificationKind.RESOLVED


def test_grouper_state_round_trip(clock):
    g = grouper(group_wait_s=30)
    g.add("ops", GROUP_BY, notice(1), clock.now)
    again = Grouper.from_dict(g.to_dict(), g.policies)
    assert again.to_dict() == g.to_dict()
    assert again.due(clock.advance(30)) == g.due(clock.now)
