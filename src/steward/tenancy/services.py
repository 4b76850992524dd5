"""Organization, site and membership changes, with the rules on who may grant what."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from steward.accounts.models import User
from steward.tenancy.models import Membership, Organization, Site
from steward.tenancy.roles import Capability, Role, can_assign
from steward.tenancy.scoping import Forbidden, Principal


class DuplicateName(Exception):
    pass


def create_organization(
    principal: Principal | None, name: str, owner: User | None = None
) -> Organization:
    """Staff superusers create organizations; the creator (or ``owner``) becomes owner."""
    if principal is not None and not principal.is_superuser:
        raise Forbidden("only staff superusers create organizations")
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name.strip())
            member = owner or (principal.user if principal else None)
            if member is not None:
                Membership.objects.create(user=member, organization=org, role=Role.OWNER)
    except IntegrityError:
        raise DuplicateName(f"an organization named {name!r} exists already") from None
    return org


def create_site(
    principal: Principal | None, organization: Organization, name: str, description: str = ""
) -> Site:
    if principal is not None:
        principal.require(Capability.MANAGE, organization.pk)
    try:
        with transaction.atomic():
            return Site.objects.create(
                organization=organization, name=name.strip(), description=description
            )
    except IntegrityError:
        raise DuplicateName(f"{organization} has a site named {name!r} already") from None


def set_membership(
    principal: Principal | None, organization: Organization, user: User, role: Role
) -> Membership:
    """Add a member or change a member's role, within what the principal may grant."""
    if principal is not None:
        principal.require(Capability.MANAGE, organization.pk)
        mine = principal.role_in(organization.pk)
        if mine is None or not can_assign(mine, role):
            raise Forbidden(f"your role cannot grant '{role.value}'")
        existing = Membership.objects.filter(user=user, organization=organization).first()
        if existing and not can_assign(mine, Role(existing.role)):
            raise Forbidden("you cannot change the role of a member above you")
    membership, created = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if not created and membership.role != role:
        _keep_an_owner(membership, role)
        membership.role = role
        membership.save()
    return membership


def remove_membership(principal: Principal | None, membership: Membership) -> None:
    if principal is not None:
        principal.require(Capability.MANAGE, membership.organization_id)
        mine = principal.role_in(membership.organization_id)
        if mine is None or not can_assign(mine, Role(membership.role)):
            raise Forbidden("you cannot remove a member above you")
    _keep_an_owner(membership, None)
    membership.delete()


def _keep_an_owner(membership: Membership, new_role: Role | None) -> None:
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return
    owners = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.OWNER
    ).count()
    if owners <= 1:
        raise Forbidden("an organization must keep at least one owner")
