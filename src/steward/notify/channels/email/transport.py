"""SMTP delivery: one connection per attempt, built from the channel, HTML + text parts.

The global ``EMAIL_*`` settings are never used: each organization brings its own relay,
so the connection is made from the channel's config (``get_connection`` with explicit
arguments). SMTP reply codes decide retries: 5xx is a permanent refusal (RFC 5321 §4.2.1),
4xx and network failures are transient.
"""

from __future__ import annotations

import smtplib
import ssl
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.template import Context, Engine, Template
from pydantic import Field, field_validator

from steward.notify.channels.base import DeliveryError, Settings, Transport
from steward.notify.message import Message

TEMPLATES = Path(__file__).parent / "templates"
SEVERITY_COLOURS = {"ok": "#2e7d32", "info": "#1565c0", "warning": "#ef6c00", "critical": "#c62828"}


def _address(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"'{value}' is not an email address") from None
    return value


class Config(Settings):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = Field("", max_length=255)
    from_address: str = Field(max_length=254)
    to: list[str] = Field(min_length=1, max_length=50)
    timeout: float = Field(10.0, gt=0, le=60)

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]


class Secrets(Settings):
    password: str = Field("", max_length=1000)


@cache
def template(name: str) -> Template:
    # The templates live with the integration (STYLE #6), outside the app template dirs.
    return Engine(autoescape=name.endswith(".html")).from_string(
        (TEMPLATES / name).read_text(encoding="utf-8")
    )


def render(message: Message) -> tuple[str, str]:
    """The text and HTML bodies of ``message``."""
    context = {
        "m": message,
        "severity": message.severity.value,
        "colour": SEVERITY_COLOURS.get(message.severity.value, "#555"),
        "labels": sorted(message.labels.items()),
    }
    text = template("message.txt").render(Context(context))
    html = template("message.html").render(Context(context))
    return text, html


def _is_permanent(error: smtplib.SMTPException) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return isinstance(error, smtplib.SMTPNotSupportedError)  # e.g. no STARTTLS on the server


class EmailTransport(Transport):
    kind = "email"
    Config: ClassVar[type[Settings]] = Config
    Secrets: ClassVar[type[Settings]] = Secrets
    config: Config
    secrets: Secrets

    def connection(self):
        c = self.config
        return get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=c.host,
            port=c.port,
            username=c.username or None,
            password=self.secrets.password or None,
            use_tls=c.security == "starttls",
            use_ssl=c.security == "ssl",
            timeout=c.timeout,
            fail_silently=False,
        )

    def send(self, message: Message) -> None:
        text, html = render(message)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=text,
            from_email=self.config.from_address,
            to=list(message.recipients) or self.config.to,
            connection=self.connection(),
            headers={
                "X-Steward-Event": message.event_kind,
                "X-Steward-Severity": message.severity.value,
                "X-Steward-Key": message.idempotency_key,
            },
        )
        email.attach_alternative(html, "text/html")
        try:
            email.send()
        except smtplib.SMTPException as e:
            raise DeliveryError(f"smtp: {e}", permanent=_is_permanent(e)) from e
        except TimeoutError as e:
            raise DeliveryError(f"smtp: timed out after {self.config.timeout:g}s") from e
        except ssl.SSLError as e:
            raise DeliveryError(f"smtp: TLS failed: {e}") from e
        except OSError as e:  # refused, unreachable, name resolution
            raise DeliveryError(f"smtp: {e}") from e
