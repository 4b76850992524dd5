"""Entry points other apps call when an input arrives; each ends in ``runtime.observe``.

* ``on_samples(org_id, samples)``: the metrics ingest, after each append
  (``steward.tsdb.types.Sample``: labels with ``__name__``, ``timestamp_ms``, ``value``).
* ``on_check_result``: check results (agent API, server-side runner), via
  ``steward.alerts.results.record``.
* ``on_device_contact(device)`` and ``on_devices_offline(pks)``: ``inventory.presence``
  on contact, and when it records devices offline.
* ``on_channel_health``: ``steward.notify.health.channel_failing`` (and recovery, from the
  tick job).
* ``on_insights(org_id, insights)``: the insights jobs, after scoring, forecasting and
  disk-health runs (``steward.insights.alerting``); ``wanted_insights`` tells them which
  subjects any rule reads, so they only build what is used.

They never raise into the caller's request: a failure is logged, and the worker's tick
catches up (it re-evaluates every deadline). Evaluation happens on arrival, not on a timer:
in the request, or (samples, routine contact, unchanged check states) within a fraction of
a second, batched with others (``runtime.observe_soon``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from steward.alerting import CheckResult, CheckState, Heartbeat, Insight, Sample, Source
from steward.alerts import derive, runtime
from steward.alerts import labels as label_cache

log = logging.getLogger("steward.alerts")

DEVICE_LABEL = "steward_device"
# Series labels that identify the writer, not the thing measured: dropped so an alert's
# fingerprint does not change when, say, the scrape job is renamed.
DROPPED = frozenset({"__name__", "steward_device", "steward_org", "job", "instance"})


# (organization, source) -> (monotonic time read, input names): every append asks, so the
# answer is kept for WANTED_TTL_S; a rule change shows in the next second.
WANTED_TTL_S = 1.0
_wanted_cache: dict[tuple[int, Source], tuple[float, frozenset[str]]] = {}


def _wanted(organization_id: int, source: Source) -> frozenset[str]:
    from steward.alerts import config
    from steward.alerts.models import EngineState

    key = (organization_id, source)
    hit = _wanted_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < WANTED_TTL_S:
        return hit[1]
    rows = EngineState.objects.filter(organization_id=organization_id)
    version = rows.values_list("config_version", flat=True).first()
    if version is None:  # first use: the row and the default pack
        runtime.state_row(organization_id)
        version = rows.values_list("config_version", flat=True).first()
    cfg = config.get(organization_id, version or 0)
    rules = [r for r in cfg.rules if r.condition.source is source]
    names = frozenset(r.condition.input_name() for r in rules)
    _history_cache[key] = max((r.condition.history_s() for r in rules), default=0.0)
    _wanted_cache[key] = (now, names)
    return names


_history_cache: dict[tuple[int, Source], float] = {}


def metric_history_s(organization_id: int) -> float:
    """The longest window, in seconds, that any metric rule of the organization reads
    (0: rules that read only the last value). Cached with ``wanted_metrics``."""
    wanted_metrics(organization_id)
    return _history_cache.get((organization_id, Source.METRIC), 0.0)


def forget(organization_id: int | None = None) -> None:
    """Drop the cached rule inputs of one organization (a config change) or of all."""
    for key in list(_wanted_cache):
        if organization_id is None or key[0] == organization_id:
            _wanted_cache.pop(key, None)
            _history_cache.pop(key, None)


def wanted_metrics(organization_id: int) -> frozenset[str]:
    """Metric names the organization's rules read (cached; the agent route uses it to
    hand the rules only those families' samples)."""
    return _wanted(organization_id, Source.METRIC)


def wanted_insights(org_id: int) -> frozenset[str]:
    """Input names of the organization's insight rules: ``anomaly:cpu``,
    ``anomaly:node_load1``, ``forecast:filesystem *``, ``disk_health:*`` ..."""
    try:
        return _wanted(org_id, Source.INSIGHT)
    except Exception:
        log.exception("could not read the alert rules of org %s", org_id)
        return frozenset()


def device_labels(org_id: int, device_id: int | None) -> dict[str, str] | None:
    """The engine's labels of one device (organization, site, device, tags), or None."""
    if device_id is None:
        return None
    info = label_cache.device(org_id, device_id)
    return None if info is None else dict(info.labels)


def insight_labels(series_labels: Mapping[str, str]) -> dict[str, str]:
    """A stored series' own labels, without those naming the writer (see ``DROPPED``)."""
    return {k: v for k, v in series_labels.items() if k not in DROPPED}


def on_insights(org_id: int, insights: Sequence[Insight], now: float | None = None) -> None:
    """Judgements of the insights jobs for organization ``org_id``: evaluate the rules."""
    try:
        runtime.observe(org_id, insights, now)
    except Exception:
        log.exception("alert evaluation of %d insights failed (org %s)", len(insights), org_id)


def reads_pushed_metrics(org_id: int) -> bool:
    """Whether rules of the organization read metrics that clients push (anything but
    Steward's own ``steward_*`` series), so push ingest must hand every sample, with its
    labels, to ``on_samples``."""
    try:
        return any(not name.startswith("steward_") for name in wanted_metrics(org_id))
    except Exception:
        log.exception("could not read the alert rules of org %s", org_id)
        return True


def on_samples(org_id: int, samples: Sequence[Any]) -> None:
    """Metric samples were stored for organization ``org_id``: evaluate the rules on them.

    Within about ``runtime.FEED_DELAY_S``, in one round with the other requests' samples
    (``observe_soon``), not in this request: every round writes the organization's whole
    engine state, and with 1,000 devices reporting, a round per metrics request (or per
    few, coalesced) kept a server thread busy with nothing else. Threshold rules wait
    ``for`` minutes anyway; check results and device contact keep their own paths.
    """
    try:
        observations = samples_to_observations(org_id, samples, wanted_metrics(org_id))
        runtime.observe_soon(org_id, observations)
    except Exception:
        log.exception("alert evaluation of %d samples failed (org %s)", len(samples), org_id)


def samples_to_observations(
    org_id: int, samples: Iterable[Any], wanted: frozenset[str]
) -> list[Sample]:
    by_device: dict[str, list[tuple[str, Mapping[str, str], float, float]]] = defaultdict(list)
    out: list[Sample] = []
    base_of: dict[str, dict[str, str]] = {}
    for s in samples:
        labels = s.labels
        name = labels.get("__name__", "")
        if name not in wanted and name not in derive.NEEDED:
            continue
        dev = labels.get(DEVICE_LABEL) or labels.get("instance", "")
        base = base_of.get(dev)
        if base is None:
            base = base_of[dev] = _base_labels(org_id, labels)
        ts = s.timestamp_ms / 1000.0
        if name in derive.NEEDED:
            by_device[dev].append((name, labels, ts, s.value))
        if name in wanted:
            extra = {k: v for k, v in labels.items() if k not in DROPPED}
            out.append(Sample(name, {**base, **extra}, ts, float(s.value)))
    for dev, batch in by_device.items():
        for name, extra, ts, value in derive.DERIVER.derive(dev, batch):
            if name in wanted:
                out.append(Sample(name, {**base_of[dev], **extra}, ts, value))
    return out


def _base_labels(org_id: int, labels: Mapping[str, str]) -> dict[str, str]:
    dev = labels.get(DEVICE_LABEL, "")
    info = label_cache.device(org_id, int(dev)) if dev.isdigit() else None
    if info is not None:
        return dict(info.labels)
    return {**label_cache.organization_labels(org_id), "device": labels.get("instance", "")}


def _contact(device: Any, at: float) -> Heartbeat | None:
    """The engine's input for a contact of ``device`` at ``at`` (None: device unknown)."""
    info = label_cache.device(device.organization_id, device.pk)
    return None if info is None else Heartbeat(dict(info.labels), at, True)


def on_device_contact(device: Any, at: float | None = None) -> None:
    """A device made contact (now, or at ``at``).

    Nothing urgent (it at most resolves an offline alert), and Django runs sync views on
    one thread, so a round per heartbeat could never coalesce: with 200 devices the rounds
    queued behind each other, heartbeats were answered late and devices went offline. The
    feeder makes one round of all contacts within ``runtime.FEED_DELAY_S``.
    """
    try:
        beat = _contact(device, time.time() if at is None else at)
        if beat is not None:
            runtime.observe_soon(device.organization_id, [beat])
    except Exception:
        log.exception("alert evaluation of device %s contact failed", device.pk)


def on_devices_offline(pks: Sequence[int]) -> None:
    """Presence recorded these devices offline: one round per organization. Offline is
    judged by the engine's own device-offline rules, from each device's last contact."""
    try:
        from steward.inventory.models import Device

        beats: dict[int, list[Heartbeat]] = defaultdict(list)
        devices = Device.objects.filter(pk__in=list(pks)).only("pk", "organization_id", "last_seen")
        for device in devices:
            seen = device.last_seen.timestamp() if device.last_seen else time.time()
            beat = _contact(device, seen)
            if beat is not None:
                beats[device.organization_id].append(beat)
    except Exception:
        log.exception("alert evaluation of %d offline devices failed", len(pks))
        return
    for org_id, batch in beats.items():
        try:
            runtime.observe(org_id, batch)
        except Exception:
            log.exception(
                "alert evaluation of %d offline devices failed (org %s)", len(batch), org_id
            )


def check_labels(check: Any) -> dict[str, str]:
    if check.device_id is not None:
        info = label_cache.device(check.organization_id, check.device_id)
        base = dict(info.labels) if info else label_cache.organization_labels(check.organization_id)
    else:
        base = {**label_cache.organization_labels(check.organization_id), "device": ""}
    base.update(
        check=check.name,
        check_type=check.type,
        target=check.target,
        alertsource="check",
        routed="1" if check.has_notify else "",
    )
    return base


def on_check_result(check: Any, state: int, ts: float, message: str,
                    extra: Sequence[Sample] = (), now: float | None = None,
                    urgent: bool = True) -> None:  # fmt: skip
    """Feed a check's *hard* state (0..3) to the engine, plus samples from its perfdata.

    ``urgent=False`` (the stored hard state is unchanged) lets the engine see it within
    a fraction of a second, batched with others (``runtime.observe_soon``), instead of in
    this request.
    """
    obs: list[Any] = [CheckResult(check.name, check_labels(check), ts, CheckState(state), message)]
    obs.extend(extra)
    if urgent:
        runtime.observe(check.organization_id, obs, now)
    else:
        runtime.observe_soon(check.organization_id, obs, now)


def on_heartbeat_state(beat: Any, down: bool, message: str, now: float | None = None) -> None:
    labels = {
        **label_cache.organization_labels(beat.organization_id),
        "device": "",
        "check": f"heartbeat:{beat.name}",
        "heartbeat": beat.name,
        "alertsource": "heartbeat",
        "routed": "1" if beat.notify.exists() else "",
    }
    at = time.time() if now is None else now
    state = CheckState.CRITICAL if down else CheckState.OK
    result = CheckResult(f"heartbeat:{beat.name}", labels, at, state, message)
    runtime.observe(beat.organization_id, [result], now)


def on_channel_health(channel: Any, failing: bool, now: float | None = None) -> None:
    try:
        labels = {
            **label_cache.organization_labels(channel.organization_id),
            "device": "",
            "check": f"channel:{channel.name}",
            "channel": channel.name,
            "alertsource": "channel",
        }
        at = time.time() if now is None else now
        state = CheckState.CRITICAL if failing else CheckState.OK
        result = CheckResult(f"channel:{channel.name}", labels, at, state, "")
        runtime.observe(channel.organization_id, [result], now)
    except Exception:
        log.exception("alert for channel %s health failed", channel.pk)
