"""API: the caller, sign-in for CLI clients, API tokens, users."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from steward.accounts import services
from steward.accounts.middleware import two_factor_required
from steward.accounts.models import ApiToken, User
from steward.api.errors import ApiError, bad_request, conflict
from steward.api.pagination import Page, paginate
from steward.audit import context
from steward.ops.middleware import client_address
from steward.tenancy import services as tenancy_services
from steward.tenancy.models import Membership, Organization
from steward.tenancy.roles import RANK, Capability, Role
from steward.tenancy.scoping import get_for

router = Router(tags=["accounts"])


class MembershipBrief(Schema):
    organization_id: int
    organization: str
    role: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    is_superuser: bool
    totp_enabled: bool
    token_role: str | None
    memberships: list[MembershipBrief]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    role: str
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    active: bool

    @staticmethod
    def of(t: ApiToken) -> TokenOut:
        return TokenOut(
            id=t.pk,
            name=t.name,
            prefix=t.prefix,
            role=t.role,
            expires_at=t.expires_at,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            active=t.is_active,
        )


class TokenCreated(TokenOut):
    token: str


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    role: Role | None = None
    expires_in_days: int | None = Field(90, ge=1, le=3650)


class SignInIn(Schema):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp: str = Field("", max_length=16)
    token_name: str = Field("steward CLI", min_length=1, max_length=200)
    expires_in_days: int = Field(90, ge=1, le=3650)


class UserOut(Schema):
    id: int
    email: str
    name: str
    is_active: bool
    totp_enabled: bool


class UserIn(Schema):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field("", max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    organization_id: int
    role: Role


@router.get("/me", response=MeOut)
def me(request):
    principal = request.auth
    memberships = Membership.objects.filter(user=principal.user).select_related("organization")
    return MeOut(
        id=principal.user.pk,
        email=principal.user.email,
        name=principal.user.name,
        is_superuser=principal.is_superuser,
        totp_enabled=principal.user.totp_enabled,
        token_role=principal.token_role.value if principal.token_role else None,
        memberships=[
            MembershipBrief(
                organization_id=m.organization_id,
                organization=m.organization.name,
                role=principal.role_in(m.organization_id) or m.role,
            )
            for m in memberships
        ],
    )


@router.post("/auth/token", auth=None, response={201: TokenCreated})
def sign_in(request, body: SignInIn):
    """Exchange email + password (+ TOTP code) for a new API token (used by `steward login`)."""
    address = client_address(request)
    try:
        attempt = services.check_password(body.email, body.password, address)
        if attempt.needs_totp:
            if not body.totp:
                raise ApiError(401, "totp_required", "two-factor code required")
            services.check_totp(attempt.user, body.totp, address)
    except services.SignInError as exc:
        raise ApiError(429 if exc.code == "throttled" else 401, exc.code, exc.detail) from None
    if two_factor_required(attempt.user):
        raise ApiError(
            403,
            "totp_setup_required",
            "your organization requires two-factor authentication: set it up in the console first",
        )
    context.set_actor(
        context.Actor(user=attempt.user, label=attempt.user.email, source="api", address=address)
    )
    token, secret = ApiToken.issue(
        attempt.user, body.token_name, expires_in=timedelta(days=body.expires_in_days)
    )
    return Status(201, TokenCreated(**TokenOut.of(token).dict(), token=secret))


@router.get("/tokens", response=Page[TokenOut])
def list_tokens(request, limit: int = 100, offset: int = 0):
    qs = ApiToken.objects.filter(user=request.auth.user)
    return paginate(qs, limit, offset, TokenOut.of)


@router.post("/tokens", response={201: TokenCreated})
def create_token(request, body: TokenIn):
    ceiling = request.auth.token_role
    role = body.role or ceiling
    if ceiling is not None and role is not None and RANK[role] > RANK[ceiling]:
        raise ApiError(403, "forbidden", "a token cannot create a token with more power")
    token, secret = ApiToken.issue(
        request.auth.user,
        body.name,
        role or ceiling,
        timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    return Status(201, TokenCreated(**TokenOut.of(token).dict(), token=secret))


@router.delete("/tokens/{token_id}", response={204: None})
def revoke_token(request, token_id: int):
    token = ApiToken.objects.filter(user=request.auth.user, pk=token_id).first()
    if token is None:
        raise ApiError(404, "not_found", "not found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
    return Status(204, None)


@router.get("/users", response=Page[UserOut])
def list_users(request, organization_id: int | None = None, limit: int = 100, offset: int = 0):
    """Users who are members of organizations the caller manages."""
    managed = request.auth.organization_ids(Capability.MANAGE)
    qs = User.objects.all()
    if managed is not None:
        qs = qs.filter(memberships__organization_id__in=managed)
    if organization_id is not None:
        qs = qs.filter(memberships__organization_id=organization_id)
    return paginate(
        qs.distinct(),
        limit,
        offset,
        lambda u: UserOut(
            id=u.pk, email=u.email, name=u.name, is_active=u.is_active, totp_enabled=u.totp_enabled
        ),
    )


@router.post("/users", response={201: UserOut})
def create_user(request, body: UserIn):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=body.organization_id)
    email = body.email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise conflict(f"a user with email {email} exists already; add a membership instead")
    try:
        validate_password(body.password)
    except DjangoValidationError as exc:
        raise bad_request("password: " + " ".join(exc.messages)) from None
    user = User.objects.create_user(email, body.password, name=body.name)
    tenancy_services.set_membership(request.auth, org, user, body.role)
    return Status(
        201,
        UserOut(
            id=user.pk,
            email=user.email,
            name=user.name,
            is_active=user.is_active,
            totp_enabled=user.totp_enabled,
        ),
    )
