"""The worker job that scrapes Prometheus exporters (``ScrapeTarget``), and the storing
of scrapes that agents report (``agent_scrapes``: targets inside a customer's network).

Each run claims the due targets with a conditional update (one winner per target even if
two workers overlap), fetches them concurrently in a bounded thread pool, parses the text
exposition format with ``prometheus_client``'s parser and appends one batch per
organization. A failing target records its error and is retried at its next interval; it
never fails the job. Like Prometheus, every scrape also writes ``up``,
``scrape_duration_seconds`` and ``scrape_samples_scraped`` for the target.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from steward import __version__
from steward.metrics import ingest
from steward.metrics.models import ScrapeTarget
from steward.tsdb.types import (
    DEVICE_LABEL,
    METRIC_NAME,
    ORG_LABEL,
    MetricType,
    Sample,
    SeriesMetadata,
)

log = logging.getLogger("steward.metrics.scrape")

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
MAX_TARGETS_PER_RUN = 1_000
_TARGET_LABELS = (ingest.INSTANCE, ingest.JOB, DEVICE_LABEL, ORG_LABEL)


class ScrapeError(Exception):
    """The target could not be scraped; the message is recorded on the target."""


@dataclass
class Scraped:
    """What one scrape produced (filled in the pool thread, stored by the job's thread)."""

    started_ms: int
    duration: float = 0.0
    error: str = ""
    samples: list[tuple[str, dict[str, str], float, int | None]] = field(default_factory=list)
    metadata: list[SeriesMetadata] = field(default_factory=list)


def instance_of(url: str) -> str:
    """``host:port`` of the URL, with the scheme's default port, as Prometheus labels it.

    A URL whose port does not parse (``:99999``) gets its authority as written: its
    scrape fails and says why, and labelling it must not fail the other targets' batch.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url.partition("//")[2].partition("/")[0].rpartition("@")[2] or url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


def fetch(client: httpx.Client, url: str, timeout: float, max_bytes: int) -> str:
    """The body of ``url``; ``timeout`` bounds the whole scrape, as Prometheus'
    ``scrape_timeout`` does. httpx's timeout is per network operation: a target that
    sends a few bytes every few seconds would never trip it, and the job waits for every
    target, so the deadline is also checked between chunks (the scrape then ends at most
    one read timeout after the deadline)."""
    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url, timeout=timeout) as response:
            if response.status_code != 200:
                raise ScrapeError(f"HTTP {response.status_code} from {url}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ScrapeError(f"response larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise ScrapeError(f"timed out after {timeout:g} s")
                chunks.append(chunk)
            encoding = response.encoding or "utf-8"
    except httpx.TimeoutException:
        raise ScrapeError(f"timed out after {timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ScrapeError(f"{type(exc).__name__}: {exc}") from None
    try:
        text = b"".join(chunks).decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise ScrapeError(f"response is not text: {exc}") from None
    # Some Windows exporters start the body with a UTF-8 byte-order mark, which the "utf-8"
    # codec keeps as U+FEFF; the parser would then read the first line as a metric name.
    return text.removeprefix("\ufeff")


def _sample_type(family_type: str, sample_name: str) -> MetricType:
    if family_type in ("counter", "gauge"):
        return MetricType(family_type)
    if family_type in ("histogram", "summary", "gaugehistogram"):
        if sample_name.endswith(("_bucket", "_count", "_sum")):
            return MetricType.COUNTER
        return MetricType.GAUGE
    return MetricType.UNKNOWN


def _exposed_names(text: str) -> set[str]:
    """The sample names as the exporter wrote them (the first word of each sample line)."""
    names = set()
    for line in text.splitlines():
        line = line.lstrip()
        if line and not line.startswith("#"):
            words = line.split("{", 1)[0].split(None, 1)
            if words:
                names.add(words[0])
    return names


def parse_exposition(text: str, scraped: Scraped) -> None:
    """Samples and metadata of a text exposition, under the names the exporter wrote.

    ``prometheus_client``'s parser names every counter sample ``<name>_total``, also when
    the exporter wrote ``<name>`` (SNMP exporter's ``ifHCInOctets``, many older
    exporters); Prometheus stores the name as written, and dashboards query it so. Such
    samples get their written name back (the text is read once more, only if a counter
    sample's name is not in it).
    """
    seen: set[str] = set()
    exposed: set[str] | None = None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name = sample.name
                if family.type == "counter" and name.endswith("_total"):
                    if exposed is None:
                        exposed = _exposed_names(text)
                    if name not in exposed and name[: -len("_total")] in exposed:
                        name = name[: -len("_total")]
                ts = None if sample.timestamp is None else round(sample.timestamp * 1000)
                scraped.samples.append((name, dict(sample.labels), sample.value, ts))
                if name not in seen:
                    seen.add(name)
                    scraped.metadata.append(
                        SeriesMetadata(
                            name,
                            _sample_type(family.type, sample.name),
                            family.unit or "",
                            family.documentation or "",
                        )
                    )
    except ValueError as exc:  # how prometheus_client's parser reports syntax errors
        raise ScrapeError(f"invalid exposition format: {exc}") from None


def scrape_one(client: httpx.Client, url: str, timeout: float, max_bytes: int) -> Scraped:
    scraped = Scraped(started_ms=ingest.now_ms())
    started = time.perf_counter()
    try:
        parse_exposition(fetch(client, url, timeout, max_bytes), scraped)
    except ScrapeError as exc:
        scraped.error = str(exc)[:1000]
        scraped.samples.clear()
        scraped.metadata.clear()
    except Exception as exc:  # a bug must not kill the other targets' scrapes
        log.exception("scrape of %s failed", url)
        scraped.error = f"internal error: {type(exc).__name__}: {exc}"[:1000]
        scraped.samples.clear()
        scraped.metadata.clear()
    scraped.duration = time.perf_counter() - started
    return scraped


def target_labels(target: ScrapeTarget) -> dict[str, str]:
    labels = {
        ingest.INSTANCE: instance_of(target.url),
        ingest.JOB: target.job,
        ORG_LABEL: target.organization.slug,
    }
    if target.device_id is not None:
        labels[DEVICE_LABEL] = str(target.device_id)
    return labels


def samples_of(target: ScrapeTarget, scraped: Scraped) -> list[Sample]:
    added = target_labels(target)
    ts_default = scraped.started_ms
    samples: list[Sample] = []
    for name, labels, value, ts in scraped.samples:
        for clash in _TARGET_LABELS:
            if clash in labels:
                labels["exported_" + clash] = labels.pop(clash)
        labels.update(added)
        labels[METRIC_NAME] = name
        samples.append(Sample(labels, ts_default if ts is None else ts, value))
    for name, value in (
        ("up", 0.0 if scraped.error else 1.0),
        ("scrape_duration_seconds", scraped.duration),
        ("scrape_samples_scraped", float(len(scraped.samples))),
    ):
        samples.append(Sample({**added, METRIC_NAME: name}, ts_default, value))
    return samples


def _claim(target: ScrapeTarget, now) -> bool:
    won = ScrapeTarget.objects.filter(
        pk=target.pk, next_scrape_at=target.next_scrape_at, enabled=True
    ).update(next_scrape_at=now + target.interval)
    return won == 1


def scrape_due_targets() -> int:
    """Scrape every due target once; return how many were scraped."""
    now = timezone.now()
    due = list(
        ScrapeTarget.objects.due(now)
        .select_related("organization")
        .order_by("next_scrape_at")[:MAX_TARGETS_PER_RUN]
    )
    targets = [t for t in due if _claim(t, now)]
    if not targets:
        return 0
    max_bytes = ingest.option("metrics_scrape_max_body")
    workers = max(1, min(int(ingest.option("metrics_scrape_concurrency")), len(targets)))
    headers = {"Accept": ACCEPT, "User-Agent": f"Steward/{__version__}"}
    with (
        httpx.Client(headers=headers, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrape") as pool,
    ):
        results = list(
            pool.map(
                lambda t: scrape_one(client, t.url, float(t.timeout_seconds), max_bytes),
                targets,
            )
        )
    store_scrapes(list(zip(targets, results, strict=True)))
    return len(targets)


def scraped_by_agent(started_ms: int, duration: float, error: str, text: str) -> Scraped:
    """What an agent reported for one scrape (``agent_scrapes``), parsed as the server
    parses its own: a body that does not parse is the scrape's error."""
    scraped = Scraped(started_ms=started_ms, duration=duration, error=error[:1000])
    if not scraped.error:
        try:
            parse_exposition(text.removeprefix("\ufeff"), scraped)
        except ScrapeError as exc:
            scraped.error = str(exc)[:1000]
            scraped.samples.clear()
            scraped.metadata.clear()
    return scraped


def store_scrapes(pairs: list[tuple[ScrapeTarget, Scraped]]) -> dict[int, str]:
    """Store each scrape's samples (one append per organization) and record the outcome on
    its target; returns the error recorded per target id (empty: none)."""
    by_org: dict[int, list[Sample]] = defaultdict(list)
    metadata: dict[int, list[SeriesMetadata]] = defaultdict(list)
    for target, scraped in pairs:
        try:
            samples = samples_of(target, scraped)
        except Exception as exc:  # one target's bug must not lose every target's batch
            log.exception("labelling the samples of %s failed", target.url)
            scraped.error = f"internal error: {type(exc).__name__}: {exc}"[:1000]
            continue
        by_org[target.organization_id].extend(samples)
        metadata[target.organization_id].extend(scraped.metadata)
    errors: dict[int, str] = {}
    for org_id, samples in by_org.items():
        try:
            result = ingest.append(org_id, samples)
            ingest.record_metadata(org_id, metadata[org_id])
        except Exception as exc:  # the store refusing must still record it on the targets
            log.exception("storing scraped samples of organization %s failed", org_id)
            errors[org_id] = f"storing failed: {type(exc).__name__}: {exc}"[:1000]
            continue
        if result.rejected:
            first = result.errors[0] if result.errors else "refused by a store limit"
            errors[org_id] = f"{result.rejected} sample(s) refused: {first}"[:1000]
    finished = timezone.now()
    recorded: dict[int, str] = {}
    for target, scraped in pairs:
        recorded[target.pk] = scraped.error or errors.get(target.organization_id, "")
        ScrapeTarget.objects.filter(pk=target.pk).update(
            last_scrape_at=finished,
            last_duration=round(scraped.duration, 6),
            last_error=recorded[target.pk],
            last_samples=len(scraped.samples),
        )
    return recorded
