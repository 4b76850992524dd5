"""POST the message as JSON, signed with the channel's secret.

Receivers verify ``X-Steward-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw request
body keyed with the channel secret (the GitHub webhook convention), comparing in constant
time. The body carries ``sent_at`` and the same instant is sent as ``X-Steward-Timestamp``
(Unix seconds): since the body is signed, a receiver can reject replays older than a few
minutes. ``X-Steward-Delivery`` is the message's idempotency key, stable across retries, so
receivers can drop duplicates (delivery is at-least-once).

Status codes: 2xx delivered; 408 and 429 (and 5xx) are retried, honouring ``Retry-After``;
any other 4xx is permanent (the receiver rejects this request and will keep doing so);
redirects are not followed and count as permanent (fix the URL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, field_validator

from steward import __version__
from steward.notify.channels.base import DeliveryError, Settings, Transport
from steward.notify.message import Message

SIGNATURE_HEADER = "X-Steward-Signature"
TIMESTAMP_HEADER = "X-Steward-Timestamp"
RETRYABLE_4XX = {408, 429}


class Config(Settings):
    url: str = Field(min_length=1, max_length=2000)
    timeout: float = Field(5.0, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = httpx.URL(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("must be an http:// or https:// URL")
        return value


class Secrets(Settings):
    secret: str = Field("", max_length=500)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (used by our tests; documented for integrators)."""
    return hmac.compare_digest(sign(secret, body), header)


def body_of(message: Message, sent_at: datetime) -> dict[str, Any]:
    data = message.as_dict()
    data.pop("recipients", None)
    data.pop("html", None)  # receivers get structured data, not our email markup
    return {"version": 1, "sent_at": sent_at.isoformat(), **data}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


class WebhookTransport(Transport):
    kind = "webhook"
    Config: ClassVar[type[Settings]] = Config
    Secrets: ClassVar[type[Settings]] = Secrets
    config: Config
    secrets: Secrets

    @classmethod
    def prepare_secrets(cls, secrets_: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        if secrets_.get("secret"):
            return secrets_, {}
        generated = secrets.token_urlsafe(32)
        return {**secrets_, "secret": generated}, {"secret": generated}

    def send(self, message: Message) -> None:
        now = time.time()
        raw = json.dumps(
            body_of(message, datetime.fromtimestamp(now, UTC)), separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Steward/{__version__}",
            "X-Steward-Event": message.event_kind,
            "X-Steward-Delivery": message.idempotency_key,
            TIMESTAMP_HEADER: str(int(now)),
        }
        if self.secrets.secret:
            headers[SIGNATURE_HEADER] = sign(self.secrets.secret, raw)
        timeout = self.config.timeout
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                response = client.post(self.config.url, content=raw, headers=headers)
        except httpx.TimeoutException as e:
            raise DeliveryError(f"webhook: timed out after {timeout:g}s") from e
        except httpx.HTTPError as e:
            raise DeliveryError(f"webhook: {type(e).__name__}: {e}") from e
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"webhook: HTTP {status} {response.text[:200]}".strip()
        if status >= 500 or status in RETRYABLE_4XX:
            raise DeliveryError(detail, retry_after=_retry_after(response))
        raise DeliveryError(detail, permanent=True)
