"""API: organizations, sites, memberships."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError
from django.db.models import ProtectedError
from ninja import Field, Router, Schema, Status

from steward.accounts.models import User
from steward.api.errors import conflict
from steward.api.pagination import Page, paginate
from steward.tenancy import services
from steward.tenancy.models import Membership, Organization, Site
from steward.tenancy.roles import Capability, Role
from steward.tenancy.scoping import Forbidden, NotFound, get_for, scoped

router = Router(tags=["tenancy"])


class OrganizationOut(Schema):
    id: int
    name: str
    slug: str
    require_2fa: bool
    created_at: datetime
    role: str | None = None

    @staticmethod
    def of(org: Organization, principal) -> OrganizationOut:
        role = principal.role_in(org.pk)
        return OrganizationOut(
            id=org.pk,
            name=org.name,
            slug=org.slug,
            require_2fa=org.require_2fa,
            created_at=org.created_at,
            role=role.value if role else None,
        )


class OrganizationIn(Schema):
    name: str = Field(min_length=1, max_length=200)


class OrganizationPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    require_2fa: bool | None = None


class SiteOut(Schema):
    id: int
    organization_id: int
    organization: str
    name: str
    description: str
    device_count: int | None = None

    @staticmethod
    def of(site: Site) -> SiteOut:
        return SiteOut(
            id=site.pk,
            organization_id=site.organization_id,
            organization=site.organization.name,
            name=site.name,
            description=site.description,
            device_count=getattr(site, "device_count", None),
        )


class SiteIn(Schema):
    organization_id: int
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)


class SitePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class MembershipOut(Schema):
    id: int
    organization_id: int
    organization: str
    user_id: int
    email: str
    name: str
    role: str

    @staticmethod
    def of(m: Membership) -> MembershipOut:
        return MembershipOut(
            id=m.pk,
            organization_id=m.organization_id,
            organization=m.organization.name,
            user_id=m.user_id,
            email=m.user.email,
            name=m.user.name,
            role=m.role,
        )


class MembershipIn(Schema):
    organization_id: int
    email: str = Field(min_length=3, max_length=254)
    role: Role


class MembershipPatch(Schema):
    role: Role


@router.get("/orgs", response=Page[OrganizationOut])
def list_orgs(request, limit: int = 100, offset: int = 0):
    qs = scoped(Organization.objects.all(), request.auth)
    return paginate(qs, limit, offset, lambda o: OrganizationOut.of(o, request.auth))


@router.post("/orgs", response={201: OrganizationOut})
def create_org(request, body: OrganizationIn):
    try:
        org = services.create_organization(request.auth, body.name)
    except services.DuplicateName as exc:
        raise conflict(str(exc)) from None
    request.auth.__dict__.pop("roles", None)  # the creator just became owner
    return Status(201, OrganizationOut.of(org, request.auth))


@router.get("/orgs/{org_id}", response=OrganizationOut)
def get_org(request, org_id: int):
    return OrganizationOut.of(get_for(Organization.objects, request.auth, pk=org_id), request.auth)


@router.patch("/orgs/{org_id}", response=OrganizationOut)
def update_org(request, org_id: int, body: OrganizationPatch):
    org = get_for(Organization.objects, request.auth, Capability.OWN, pk=org_id)
    for field, value in body.dict(exclude_unset=True).items():
        if value is not None:
            setattr(org, field, value)
    try:
        org.save()
    except IntegrityError:
        raise conflict(f"an organization named {body.name!r} exists already") from None
    return OrganizationOut.of(org, request.auth)


@router.delete("/orgs/{org_id}", response={204: None})
def delete_org(request, org_id: int):
    org = get_for(Organization.objects, request.auth, Capability.OWN, pk=org_id)
    from steward.inventory.models import Device

    Device.objects.filter(organization=org).delete()  # devices PROTECT their site
    org.delete()
    return Status(204, None)


@router.get("/sites", response=Page[SiteOut])
def list_sites(request, organization_id: int | None = None, limit: int = 100, offset: int = 0):
    from django.db.models import Count

    qs = scoped(Site.objects.select_related("organization"), request.auth).annotate(
        device_count=Count("devices")
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return paginate(qs, limit, offset, SiteOut.of)


@router.post("/sites", response={201: SiteOut})
def create_site(request, body: SiteIn):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=body.organization_id)
    try:
        site = services.create_site(request.auth, org, body.name, body.description)
    except services.DuplicateName as exc:
        raise conflict(str(exc)) from None
    return Status(201, SiteOut.of(site))


@router.get("/sites/{site_id}", response=SiteOut)
def get_site(request, site_id: int):
    return SiteOut.of(
        get_for(Site.objects.select_related("organization"), request.auth, pk=site_id)
    )


@router.patch("/sites/{site_id}", response=SiteOut)
def update_site(request, site_id: int, body: SitePatch):
    site = get_for(
        Site.objects.select_related("organization"), request.auth, Capability.MANAGE, pk=site_id
    )
    for field, value in body.dict(exclude_unset=True).items():
        if value is not None:
            setattr(site, field, value)
    try:
        site.save()
    except IntegrityError:
        raise conflict(f"a site named {body.name!r} exists already") from None
    return SiteOut.of(site)


@router.delete("/sites/{site_id}", response={204: None})
def delete_site(request, site_id: int):
    site = get_for(Site.objects, request.auth, Capability.MANAGE, pk=site_id)
    try:
        site.delete()
    except ProtectedError:
        raise conflict("the site still has devices: move or delete them first") from None
    return Status(204, None)


@router.get("/memberships", response=Page[MembershipOut])
def list_memberships(
    request, organization_id: int | None = None, limit: int = 100, offset: int = 0
):
    qs = scoped(
        Membership.objects.select_related("organization", "user"), request.auth, Capability.MANAGE
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return paginate(qs, limit, offset, MembershipOut.of)


@router.post("/memberships", response={201: MembershipOut})
def add_membership(request, body: MembershipIn):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=body.organization_id)
    user = User.objects.filter(email=body.email.strip().lower()).first()
    if user is None:
        raise NotFound
    membership = services.set_membership(request.auth, org, user, body.role)
    return Status(201, MembershipOut.of(membership))


@router.patch("/memberships/{membership_id}", response=MembershipOut)
def update_membership(request, membership_id: int, body: MembershipPatch):
    membership = get_for(
        Membership.objects.select_related("organization", "user"),
        request.auth,
        Capability.MANAGE,
        pk=membership_id,
    )
    membership = services.set_membership(
        request.auth, membership.organization, membership.user, body.role
    )
    return MembershipOut.of(membership)


@router.delete("/memberships/{membership_id}", response={204: None})
def delete_membership(request, membership_id: int):
    membership = get_for(Membership.objects, request.auth, Capability.MANAGE, pk=membership_id)
    services.remove_membership(request.auth, membership)
    return Status(204, None)


__all__ = ["Forbidden", "router"]
