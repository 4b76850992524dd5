"""Scrape targets the server assigns to this agent: exporters inside the customer's network.

An MSP's server usually cannot reach a customer's LAN, where a switch's SNMP exporter, a
NAS or a printer answers Prometheus' text format. The server assigns such a target to a
device there (``ScrapeTarget.scraper``); that device's agent fetches it on the target's
interval and forwards the body as it came (docs/agent-protocol.md § Scrape targets). The
server parses and labels it exactly as its own scrapes, so this module does not parse.

Delivery, as for metrics: each result is written to an on-disk spool before it is sent
and removed when the server answered 200; during an outage results wait there (bounded,
the oldest dropped first) and go out oldest first afterwards. A 400/413/422 (other than a
clock skew) means the server will never take that result: it is dropped. Another refusal
(a server without these endpoints answers 404) pauses sending with a growing delay.

Runs on its own thread (``start``): a target that answers slowly must not hold up the
agent's heartbeats. Targets are scraped one after another, each bounded by its timeout.
The assignment is fetched on start and every ``FETCH_INTERVAL`` seconds and kept in
``<state_dir>/scrapes.json``, so an agent that starts while the server is down scrapes
anyway.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from steward.agent import AGENT_VERSION
from steward.agent.backoff import Backoff
from steward.agent.client import (
    DeviceRevoked,
    InvalidCredential,
    RequestRejected,
    ServerUnavailable,
)
from steward.agent.protocol import CODE_CLOCK_SKEW, utc_now
from steward.agent.spool import Spool, SpoolCorrupt, SpoolUnavailable

logger = logging.getLogger(__name__)

# Every agent asks, targets or not: at 1,000 agents every 60 s was 17 full Django
# requests a second (~5 % of a server core) for answers that almost never change. As the
# checks' floor: every 5 minutes, and at once when the server names an unknown target.
FETCH_INTERVAL = 300.0
SPOOL_DIR = "scrape-spool"
ASSIGNMENT_FILE = "scrapes.json"
DEFAULT_SPOOL_BYTES = 32 * 2**20
DEFAULT_MAX_BODY = 16 * 2**20
# Results sent per wake-up: after an outage the backlog drains over a few passes, and
# the scrapes due meanwhile are not held up for long.
SEND_BUDGET = 20
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
DROP_STATUSES = frozenset({400, 413, 422})


class ScrapeClient(Protocol):
    def fetch_scrape_targets(self) -> dict[str, Any]: ...

    def send_scrape_results(self, body_gzipped: bytes) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Target:
    id: int
    url: str
    interval_seconds: int
    timeout_seconds: int


def parse_targets(answer: Any) -> tuple[list[Target], int]:
    """The targets of a ``GET /agent/scrape-targets`` answer (malformed entries are skipped
    and logged) and the most bytes to read from one."""
    if not isinstance(answer, dict) or not isinstance(answer.get("targets"), list):
        raise ValueError("the scrape targets answer has no list of targets")
    max_body = answer.get("max_body")
    if not isinstance(max_body, int) or isinstance(max_body, bool) or max_body <= 0:
        max_body = DEFAULT_MAX_BODY
    targets = []
    for item in answer["targets"]:
        try:
            target = Target(
                int(item["id"]),
                str(item["url"]),
                int(item["interval_seconds"]),
                int(item["timeout_seconds"]),
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("ignoring a malformed scrape target: %r", item)
            continue
        if not target.url.startswith(("http://", "https://")) or not (
            target.timeout_seconds >= 1 and 1 <= target.interval_seconds <= 3600
        ):
            logger.warning("ignoring scrape target %s: %s", target.id, target.url)
            continue
        # A scrape never outlasts its interval (the server's API refuses such a target).
        timeout = min(target.timeout_seconds, target.interval_seconds)
        targets.append(Target(target.id, target.url, target.interval_seconds, timeout))
    return targets, max_body


def fetch(url: str, timeout: float, max_body: int) -> str:
    """The exporter's answer as text; raises ``OSError``/``ValueError`` with the reason.

    ``timeout`` bounds the whole scrape, as Prometheus' ``scrape_timeout`` does (urllib's
    is per socket operation, so the deadline is also checked between reads)."""
    deadline = time.monotonic() + timeout
    # Imported here: urllib.request costs the agent a few MB, and most agents scrape
    # nothing (tests/agent/test_isolation.py).
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # As the server's scraper (follow_redirects=False): a 3xx is the scrape's error,
        # never a request to wherever it points.
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    # No proxy from the environment either: these targets are on the device's own network.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    headers = {"Accept": ACCEPT, "User-Agent": f"steward-agent/{AGENT_VERSION}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - checked above
    with opener.open(request, timeout=timeout) as response:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(65536):
            size += len(chunk)
            if size > max_body:
                raise ValueError(f"response larger than {max_body} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g} s")
            chunks.append(chunk)
        charset = response.headers.get_content_charset() or "utf-8"
    return b"".join(chunks).decode(charset).removeprefix("\ufeff")


class ScrapeService:
    def __init__(
        self,
        client: ScrapeClient,
        state_dir: Path,
        *,
        spool_max_bytes: int = DEFAULT_SPOOL_BYTES,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        fetcher: Callable[[str, float, int], str] = fetch,
    ) -> None:
        self.client = client
        self.state_dir = state_dir
        self.spool = Spool(state_dir / SPOOL_DIR, spool_max_bytes, items_key="results")
        self._clock = clock
        self._wall = wall
        self._fetch = fetcher
        self.targets: list[Target] = []
        self.max_body = DEFAULT_MAX_BODY
        self.next_fetch = clock()
        self._due: dict[int, float] = {}
        self._backoff = Backoff(5.0, 300.0)
        self._send_after = clock()
        self.sent = 0
        self.dropped = 0
        self.stopped_by: DeviceRevoked | InvalidCredential | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._saved = ""  # the assignment file's content as last written or read
        self._load_assignment()

    # --- the assignment -----------------------------------------------------------------

    def _load_assignment(self) -> None:
        path = self.state_dir / ASSIGNMENT_FILE
        try:
            text = path.read_text()
            self._apply(*parse_targets(json.loads(text)))
            self._saved = text
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            logger.warning("ignoring %s: %s", path, error)

    def refresh(self) -> None:
        """Fetch the assignment (every ``FETCH_INTERVAL`` s); failures keep the last one."""
        self.next_fetch = self._clock() + FETCH_INTERVAL
        answer = self.client.fetch_scrape_targets()
        targets, max_body = parse_targets(answer)
        self._apply(targets, max_body)
        saved = json.dumps({"targets": [asdict(t) for t in targets], "max_body": max_body})
        if saved == self._saved:
            return  # unchanged: no write every few minutes for nothing
        path = self.state_dir / ASSIGNMENT_FILE
        try:
            path.write_text(saved)
            self._saved = saved
        except OSError as error:
            logger.warning("cannot save %s: %s", path, error)

    def _apply(self, targets: list[Target], max_body: int) -> None:
        now = self._clock()
        self.targets = targets
        self.max_body = max_body
        # A new target is scraped at once; a known one keeps its schedule.
        self._due = {t.id: self._due.get(t.id, now) for t in targets}

    # --- scraping -------------------------------------------------------------------------

    def scrape_due(self) -> int:
        """Scrape every target that is due, spooling each result; returns how many."""
        done = 0
        for target in self.targets:
            now = self._clock()
            if self._due.get(target.id, now) > now:
                continue
            self._due[target.id] = now + target.interval_seconds
            self._spool(self.scrape(target))
            done += 1
        return done

    def scrape(self, target: Target) -> dict[str, Any]:
        started_ms = int(self._wall() * 1000)
        started = time.perf_counter()
        body, error = "", ""
        try:
            body = self._fetch(target.url, float(target.timeout_seconds), self.max_body)
        except OSError as exc:
            code = getattr(exc, "code", None)  # urllib's HTTPError, without importing it
            reason = getattr(exc, "reason", None) or exc
            error = (
                f"HTTP {code} from {target.url}"
                if isinstance(code, int)
                else f"{type(exc).__name__}: {reason}"[:1000]
            )
        except (ValueError, UnicodeDecodeError, LookupError) as exc:
            reason = getattr(exc, "reason", None) or exc
            error = f"{type(exc).__name__}: {reason}"[:1000]
        return {
            "target_id": target.id,
            "started_ms": started_ms,
            "duration": round(time.perf_counter() - started, 6),
            "error": error,
            "body": body,
        }

    def _spool(self, result: dict[str, Any]) -> None:
        try:
            self.spool.write({"batch_id": uuid.uuid4().hex, "results": [result]}, 1)
        except OSError as error:
            self.dropped += 1
            logger.warning("cannot spool the scrape of target %s: %s", result["target_id"], error)

    # --- delivery -------------------------------------------------------------------------

    def ship(self, budget: int = SEND_BUDGET) -> int:
        """Send spooled results oldest first, at most ``budget``; returns how many went."""
        if self._clock() < self._send_after:
            return 0
        sent = 0
        while sent < budget and (entry := self.spool.oldest()) is not None:
            try:
                payload = self.spool.read(entry)
            except SpoolCorrupt:
                continue  # quarantined: the next one
            except SpoolUnavailable:
                return sent
            body = {"sent_at": utc_now(), "results": payload["results"]}
            content = gzip.compress(json.dumps(body).encode(), 6, mtime=0)
            try:
                answer = self.client.send_scrape_results(content)
            except ServerUnavailable as error:
                self._pause(f"the server is unavailable ({error})")
                return sent
            except RequestRejected as error:
                if error.status in DROP_STATUSES and error.code != CODE_CLOCK_SKEW:
                    self.spool.drop(entry, f"refused by the server: {error}")
                    self.dropped += 1
                    continue
                self._pause(f"the server refused scrape results ({error})")
                return sent
            self.spool.ack(entry)
            self._backoff.reset()
            unknown = answer.get("unknown_targets") if isinstance(answer, dict) else None
            if unknown:
                # Reassigned or deleted meanwhile: fetch the assignment again soon.
                self.next_fetch = min(self.next_fetch, self._clock())
            sent += 1
            self.sent += 1
        return sent

    def _pause(self, why: str) -> None:
        delay = self._backoff.next_delay()
        self._send_after = self._clock() + delay
        logger.warning("scrape results wait: %s; next try in %.0f s", why, delay)

    # --- the thread -------------------------------------------------------------------------

    def next_wake(self) -> float:
        due = [self.next_fetch, *self._due.values()]
        if len(self.spool):
            due.append(self._send_after)
        return min(due)

    def run_once(self) -> None:
        if self._clock() >= self.next_fetch:
            try:
                self.refresh()
            except ServerUnavailable as error:
                logger.info("scrape targets not fetched: %s", error)
            except RequestRejected as error:
                # A server without agent scraping (404): keep the last assignment.
                logger.info("scrape targets not fetched: %s", error)
            except ValueError as error:
                logger.warning("scrape targets not fetched: %s", error)
        self.scrape_due()
        self.ship()

    def start(self, stop: threading.Event) -> None:
        """Scrape and deliver on a thread until ``stop`` is set or ``close`` is called."""

        def loop() -> None:
            while not (stop.is_set() or self._closed.is_set()):
                try:
                    self.run_once()
                except (DeviceRevoked, InvalidCredential) as error:
                    self.stopped_by = error  # the runner ends on its own next request
                    return
                except Exception:  # never the agent's end: log, and try again later
                    logger.exception("scrape round failed")
                # Asleep until something is due (an agent without targets wakes once a
                # minute); ``close`` wakes it at once.
                self._closed.wait(max(0.2, min(60.0, self.next_wake() - self._clock())))

        self._thread = threading.Thread(target=loop, name="steward-scrapes", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (a scrape in progress ends within its timeout)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout)
