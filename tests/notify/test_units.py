"""Pure pieces: backoff, the message round trip, preference rules, masking, signing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from steward.notify import backoff
from steward.notify.channels import TRANSPORTS
from steward.notify.channels.webhook.transport import sign, verify
from steward.notify.message import Link, Message, Severity
from steward.notify.models import NotificationPreference


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half():
    assert backoff.delay(1, rng=lambda: 0.0) == timedelta(seconds=15)
    assert backoff.delay(1, rng=lambda: 1.0) == timedelta(seconds=30)
    assert backoff.delay(3, rng=lambda: 1.0) == timedelta(seconds=120)
    assert backoff.delay(20, rng=lambda: 1.0) == timedelta(hours=1)


def test_backoff_honours_a_longer_retry_after_but_not_beyond_the_cap():
    assert backoff.delay(1, rng=lambda: 0.0, retry_after=90) == timedelta(seconds=90)
    assert backoff.delay(1, rng=lambda: 0.0, retry_after=5) == timedelta(seconds=15)
    assert backoff.delay(1, rng=lambda: 0.0, retry_after=86400) == timedelta(hours=1)


def test_a_message_survives_the_round_trip_through_json():
    message = Message(
        subject="s",
        text="t",
        html="<b>t</b>",
        severity=Severity.CRITICAL,
        event_kind="alert.firing",
        labels={"a": "1"},
        links=(Link("https://x.test", "x"),),
        idempotency_key="k",
        recipients=("a@b.test",),
    )
    assert Message.from_dict(message.as_dict()) == message


def test_the_signature_is_an_hmac_sha256_of_the_raw_body():
    # Known answer from another implementation: printf '{"a":1}' | openssl dgst -sha256 -hmac key
    expected = "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
    assert sign("key", b'{"a":1}') == expected
    assert verify("key", b'{"a":1}', expected)
    assert not verify("key", b'{"a":2}', expected)
    assert not verify("other", b'{"a":1}', expected)


def test_masks_show_which_secrets_are_set_never_their_values():
    assert TRANSPORTS["webhook"].mask({"secret": "abc"}) == {"secret": "********"}
    assert TRANSPORTS["email"].mask({"password": ""}) == {}
    assert TRANSPORTS["apprise"].mask({"url": "slack://a/b/c"}) == {"url": "slack://********"}


def prefs(**kw) -> NotificationPreference:
    return NotificationPreference(**kw)


AT_NIGHT = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)  # 00:30 in Paris
AT_NOON = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severity", "at", "expected"),
    [
        (Severity.WARNING, AT_NOON, True),
        (Severity.INFO, AT_NOON, False),  # not among the chosen severities
        (Severity.WARNING, AT_NIGHT, False),  # quiet hours
        (Severity.CRITICAL, AT_NIGHT, True),  # critical pierces quiet hours
    ],
)
def test_preferences_decide_by_severity_and_quiet_hours(severity, at, expected):
    p = prefs(
        severities=["warning", "critical"],
        quiet_hours_start=time(22, 0),
        quiet_hours_end=time(7, 0),
        timezone="Europe/Paris",
    )
    assert p.wants_email(Message(subject="s", text="t", severity=severity), at) is expected


def test_preferences_filter_by_event_kind_prefix_and_master_switch():
    p = prefs(severities=["warning"], event_kinds=["alert."])
    assert p.wants_email(
        Message("s", "t", severity=Severity.WARNING, event_kind="alert.x"), AT_NOON
    )
    assert not p.wants_email(
        Message("s", "t", severity=Severity.WARNING, event_kind="ticket.new"), AT_NOON
    )
    p.email_enabled = False
    assert not p.wants_email(
        Message("s", "t", severity=Severity.WARNING, event_kind="alert.x"), AT_NOON
    )
