"""Who may write metrics through the push endpoints, and into which organization.

Telegraf, Prometheus and friends authenticate with a Steward API token, in any of the
forms they know how to send:

* ``Authorization: Bearer <token>`` (Prometheus ``remote_write.authorization``),
* ``Authorization: Token <token>`` (InfluxDB 2.x clients, Telegraf ``outputs.influxdb_v2``),
* HTTP basic auth with the token as the password, any user name (InfluxDB 1.x clients,
  Telegraf ``outputs.influxdb`` ``username``/``password``).

Writing needs ``OPERATE`` (technician or above) in the target organization.
"""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from steward.api.auth import TokenAuth
from steward.api.errors import ApiError
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Principal, get_for


def token_from_header(header: str) -> str | None:
    scheme, _, credential = header.strip().partition(" ")
    scheme = scheme.lower()
    credential = credential.strip()
    if scheme in ("bearer", "token"):
        return credential or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    return None


class IngestAuth(HttpBearer):
    """An API token as Bearer, Token or basic-auth password (documented as bearer)."""

    def __call__(self, request: HttpRequest) -> Principal | None:
        secret = token_from_header(request.headers.get("Authorization", ""))
        if not secret:
            return None
        return TokenAuth().authenticate(request, secret)

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return TokenAuth().authenticate(request, token)  # pragma: no cover - __call__ wins


class IngestCredential(HttpBearer):
    """``IngestAuth`` for async views: reads the secret on the event loop (no database);
    the view checks it with ``token_principal`` on an ingest thread."""

    is_async = True

    async def __call__(self, request: HttpRequest) -> str | None:  # type: ignore[override]
        return token_from_header(request.headers.get("Authorization", ""))

    def authenticate(self, request: HttpRequest, token: str) -> str:  # pragma: no cover
        return token


def token_principal(request: HttpRequest, secret: str) -> Principal:
    """The caller of an ``IngestCredential`` view, or 401 as ninja answers a failed auth."""
    principal = TokenAuth().authenticate(request, secret)
    if principal is None:
        raise AuthenticationError()
    return principal


def target_organization(principal: Principal, ref: str) -> Organization:
    """The organization to write into: ``ref`` (slug or id), else the caller's only one.

    Organizations the caller does not belong to are absent (404), as everywhere; a role
    below technician gets 403.
    """
    ref = ref.strip()
    if ref:
        queryset = Organization.objects.filter(slug=ref)
        if ref.isdigit() and not queryset.exists():
            queryset = Organization.objects.filter(pk=int(ref))
        return get_for(queryset, principal, Capability.OPERATE)
    allowed = principal.organization_ids(Capability.OPERATE)
    if allowed is None:
        raise ApiError(
            400, "org_required", "pass ?org=<organization slug or id> to say where to write"
        )
    if len(allowed) == 1:
        return Organization.objects.get(pk=allowed[0])
    if not allowed:
        raise ApiError(
            403,
            "forbidden",
            "writing metrics needs the technician role or above in an organization",
        )
    slugs = sorted(Organization.objects.filter(pk__in=allowed).values_list("slug", flat=True))
    raise ApiError(
        400,
        "org_required",
        "you can write to several organizations: pass ?org=<slug or id> (one of: "
        + ", ".join(slugs[:10])
        + (", ..." if len(slugs) > 10 else "")
        + ")",
    )
