"""The agent's HTTP client for protocol version 1, with every outcome typed.

Callers never see the HTTP layer (``steward.agent.transport``) or status codes: a request
either returns a typed response or raises one of the exceptions below, and ``permanent``
says whether retrying the same request later can help (the Healthchecks transports
convention). The runner's whole error policy is written against these classes.
"""

from __future__ import annotations

import gzip
import json
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from steward.agent import AGENT_VERSION
from steward.agent.metrics.wire import FORMATS_HEADER, server_formats
from steward.agent.protocol import (
    CHECK_RESULTS_PATH,
    CHECKS_PATH,
    CODE_DEVICE_REVOKED,
    CODE_INVALID_CREDENTIAL,
    ENROLL_PATH,
    GZIP_ABOVE_BYTES,
    HEARTBEAT_PATH,
    INVENTORY_PATH,
    METRICS_PATH,
    SCRAPE_RESULTS_PATH,
    SCRAPE_TARGETS_PATH,
    encode_body,
    utc_now,
)
from steward.agent.transport import Response, Transport, TransportError, TransportTimeout

logger = logging.getLogger(__name__)

# Statuses that mean "not now" rather than "no": request timeout and rate limiting.
RETRYABLE_4XX = frozenset({408, 429})


class AgentClientError(Exception):
    """Base of every error the client raises."""

    permanent: ClassVar[bool] = True


class ServerUnavailable(AgentClientError):
    """No usable answer: connection refused or reset, timeout, TLS failure, 5xx, 429."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnexpectedResponse(ServerUnavailable):
    """A success status with a body that is not the protocol's (a captive portal, a proxy
    page, the wrong server): treated as unavailable, since it may well be transient."""


class RequestRejected(AgentClientError):
    """The server refused this request (a 3xx or 4xx other than the ones below)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{detail} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.detail = detail


class EnrollmentRejected(AgentClientError):
    """Enrollment refused: ``code`` is e.g. invalid_token, token_expired, token_revoked,
    token_exhausted or invalid_request."""

    def __init__(self, code: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{detail} ({code})")
        self.code = code
        self.detail = detail
        self.status = status


class DeviceRevoked(AgentClientError):
    """An administrator revoked this device: the agent must stop (exit status 3)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidCredential(AgentClientError):
    """The server does not know this credential (deleted device, other server)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class EnrollResponse:
    device_id: int
    credential: str = field(repr=False)
    organization: str | None
    site: str | None
    heartbeat_interval: int | None
    inventory_interval: int | None
    server_time: str | None


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    server_time: str | None
    heartbeat_interval: int | None
    inventory_interval: int | None
    # The revision of the device's check assignment; None from a server without checks.
    checks_revision: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryResponse:
    accepted: bool
    software_count: int | None


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


class AgentClient:
    """Talks to one Steward server. ``credential`` is needed for all but ``enroll``.

    ``ca_file`` pins the CA bundle used to verify the server (a private CA); without it
    the system's trust store is used. Plain ``http://`` is for a server on loopback.
    Raises ``ValueError`` for a URL that is not http(s) or an unusable CA file.

    ``timeout`` (seconds) bounds the connect and each read or write of every request.
    Requests share one kept-alive connection; the client may be used from several threads
    (they take turns on the connection).
    """

    def __init__(
        self,
        server_url: str,
        credential: str | None = None,
        ca_file: str | None = None,
        timeout: float = 10,
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise ValueError(f"server URL must start with http:// or https://: {server_url!r}")
        self.server_url = server_url.rstrip("/")
        self._credential = credential
        # Metrics formats the server said it reads (none yet: points only).
        self.metrics_formats: frozenset[str] = frozenset()
        context: ssl.SSLContext | None = None
        if ca_file:
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as error:
                reason = getattr(error, "strerror", None) or error
                raise ValueError(f"cannot use CA file {ca_file}: {reason}") from None
        self._http = Transport(
            self.server_url,
            ssl_context=context,
            timeout=timeout,
            default_headers={"User-Agent": f"steward-agent/{AGENT_VERSION}"},
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def enroll(self, token: str, hostname: str, machine_id: str, platform: str) -> EnrollResponse:
        """Exchange an enrollment token for a device credential (shown only this once)."""
        body = {
            "token": token,
            "hostname": hostname,
            "machine_id": machine_id,
            "agent_version": AGENT_VERSION,
            "platform": platform,
        }
        data = self._post(ENROLL_PATH, body, enrolling=True)
        device_id, credential = data.get("device_id"), data.get("credential")
        if isinstance(device_id, bool) or not isinstance(device_id, int):
            raise UnexpectedResponse("enrollment response has no integer device_id")
        if not isinstance(credential, str) or not credential:
            raise UnexpectedResponse("enrollment response has no credential")
        return EnrollResponse(
            device_id=device_id,
            credential=credential,
            organization=_optional_str(data, "organization"),
            site=_optional_str(data, "site"),
            heartbeat_interval=_optional_int(data, "heartbeat_interval"),
            inventory_interval=_optional_int(data, "inventory_interval"),
            server_time=_optional_str(data, "server_time"),
        )

    def heartbeat(self, uptime_seconds: float | None) -> HeartbeatResponse:
        """Tell the server this device is alive; the reply carries the current intervals."""
        body = {"agent_version": AGENT_VERSION, "uptime_seconds": uptime_seconds}
        data = self._post(HEARTBEAT_PATH, body)
        return HeartbeatResponse(
            server_time=_optional_str(data, "server_time"),
            heartbeat_interval=_optional_int(data, "heartbeat_interval"),
            inventory_interval=_optional_int(data, "inventory_interval"),
            checks_revision=_optional_str(data, "checks_revision"),
        )

    def send_inventory(self, payload: Mapping[str, Any]) -> InventoryResponse:
        """Send an inventory report (as built by ``collect_inventory``)."""
        data = self._post(INVENTORY_PATH, payload)
        return InventoryResponse(
            accepted=bool(data.get("accepted")),
            software_count=_optional_int(data, "software_count"),
        )

    def send_metrics(self, body_gzipped: bytes) -> dict[str, Any]:
        """Send one gzip-compressed metrics batch, already complete (the caller stamps its
        ``sent_at``: the batch is spooled compressed and this client does not reopen it).
        Returns the server's answer (``accepted``, ``duplicates``, ``interval``...)."""
        answer, response = self._exchange(
            "POST", METRICS_PATH, body_gzipped, extra_headers={"Content-Encoding": "gzip"}
        )
        # Every 200 says again what the server reads: an upgrade or a downgrade shows on
        # the next batch (steward.agent.metrics.wire).
        self.metrics_formats = server_formats(response.headers.get(FORMATS_HEADER))
        return answer

    def fetch_checks(self) -> dict[str, Any]:
        """The checks assigned to this device: ``{"revision": ..., "checks": [...]}`` as the
        server sent it (``steward.agent.checks.assignment`` validates the content)."""
        return self._request("GET", CHECKS_PATH)

    def send_check_results(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Send check results (``{"check_id": ..., **CheckResult.to_dict()}`` each), oldest
        first; returns the server's answer (``accepted``, ``unknown_checks``)."""
        content = encode_body({"sent_at": utc_now(), "results": results})
        if len(content) <= GZIP_ABOVE_BYTES:
            return self._request("POST", CHECK_RESULTS_PATH, content)
        return self._request(
            "POST",
            CHECK_RESULTS_PATH,
            gzip.compress(content, 6, mtime=0),
            extra_headers={"Content-Encoding": "gzip"},
        )

    def fetch_scrape_targets(self) -> dict[str, Any]:
        """The exporters this device's agent scrapes for the server:
        ``{"targets": [...], "max_body": ...}`` (``steward.agent.scrapes`` validates it)."""
        return self._request("GET", SCRAPE_TARGETS_PATH)

    def send_scrape_results(self, body_gzipped: bytes) -> dict[str, Any]:
        """Send spooled scrape results (gzip JSON, stamped by the caller); returns the
        server's answer (``accepted``, ``unknown_targets``, ``errors``)."""
        return self._request(
            "POST",
            SCRAPE_RESULTS_PATH,
            body_gzipped,
            extra_headers={"Content-Encoding": "gzip"},
        )

    def _post(
        self, path: str, body: Mapping[str, Any], *, enrolling: bool = False
    ) -> dict[str, Any]:
        # sent_at is stamped here, as the request leaves, so that the server's clock-skew
        # check measures this machine's clock and not how long the report waited.
        content = encode_body(
            {"sent_at": utc_now(), **{k: v for k, v in body.items() if k != "sent_at"}}
        )
        return self._post_content(path, content, enrolling=enrolling)

    def _post_content(
        self,
        path: str,
        content: bytes,
        *,
        enrolling: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self._request(
            "POST", path, content, enrolling=enrolling, extra_headers=extra_headers
        )

    def _request(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        *,
        enrolling: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self._exchange(
            method, path, content, enrolling=enrolling, extra_headers=extra_headers
        )[0]

    def _exchange(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        *,
        enrolling: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], Response]:
        """``_request``, with the response (its headers) besides the answer."""
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        headers.update(extra_headers or {})
        if not enrolling:
            if not self._credential:
                raise ValueError("this request needs a credential; enroll first")
            headers["Authorization"] = f"Bearer {self._credential}"
        url = self.server_url + path
        try:
            response = self._http.request(method, path, content, headers)
        except TransportTimeout:
            raise ServerUnavailable(f"{url}: no answer in time") from None
        except TransportError as error:
            raise ServerUnavailable(f"{url}: {error}") from None
        return self._interpret(response, enrolling=enrolling), response

    def _interpret(self, response: Response, *, enrolling: bool) -> dict[str, Any]:
        status = response.status
        if 200 <= status < 300:
            try:
                data = json.loads(response.body)
            except ValueError:
                raise UnexpectedResponse(f"HTTP {status} with a body that is not JSON") from None
            if not isinstance(data, dict):
                raise UnexpectedResponse(f"HTTP {status} with a JSON body that is not an object")
            return data
        code, detail = self._error_fields(response)
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise RequestRejected(
                status, "redirect", f"the server redirects to {location}; use that URL"
            )
        if status >= 500 or status in RETRYABLE_4XX:
            raise ServerUnavailable(f"HTTP {status}: {detail}")
        if code == CODE_DEVICE_REVOKED:
            raise DeviceRevoked(detail)
        if code == CODE_INVALID_CREDENTIAL:
            raise InvalidCredential(detail)
        if enrolling:
            raise EnrollmentRejected(code, detail, status)
        raise RequestRejected(status, code, detail)

    @staticmethod
    def _error_fields(response: Response) -> tuple[str, str]:
        """(code, detail) from the protocol's error body, or made up from the status when
        the answer comes from something else (a proxy's HTML error page)."""
        code, detail = f"http_{response.status}", response.reason or "error"
        try:
            data = json.loads(response.body)
        except ValueError:
            return code, detail
        if isinstance(data, dict):
            code = _optional_str(data, "code") or code
            detail = _optional_str(data, "detail") or detail
        return code, detail
