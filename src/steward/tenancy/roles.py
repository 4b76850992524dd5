"""Roles and what they may do: the single table every permission check reads.

A role is held per organization (``Membership``). An API token may carry a role ceiling:
the effective role is the lower of the membership's and the token's, so a read-only
integration token stays read-only even for an owner.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    TECHNICIAN = "technician"
    VIEWER = "viewer"
    REQUESTER = "requester"


class Capability(StrEnum):
    VIEW = "view"  # read devices, sites, inventory
    OPERATE = "operate"  # change devices: tags, site, name; revoke a device
    MANAGE = "manage"  # sites, enrollment tokens, memberships, users, audit log
    OWN = "own"  # the organization itself: rename, delete, require 2FA, grant owner


# Higher rank = more power. Requester is below viewer: an employee who opens tickets does
# not see the estate's inventory.
RANK: dict[Role, int] = {
    Role.REQUESTER: 0,
    Role.VIEWER: 1,
    Role.TECHNICIAN: 2,
    Role.ADMIN: 3,
    Role.OWNER: 4,
}

GRANTS: dict[Role, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset({Capability.VIEW, Capability.OPERATE, Capability.MANAGE}),
    Role.TECHNICIAN: frozenset({Capability.VIEW, Capability.OPERATE}),
    Role.VIEWER: frozenset({Capability.VIEW}),
    Role.REQUESTER: frozenset(),
}

CHOICES = [(role.value, role.value.capitalize()) for role in RANK]


def lower(a: Role, b: Role | None) -> Role:
    """The less powerful of two roles (``b=None`` means no ceiling)."""
    if b is None:
        return a
    return a if RANK[a] <= RANK[b] else b


def grants(role: Role | None, capability: Capability) -> bool:
    return role is not None and capability in GRANTS[role]


def can_assign(assigner: Role, role: Role) -> bool:
    """Nobody hands out more than they hold; only owners make owners."""
    return RANK[role] <= RANK[assigner] and (role != Role.OWNER or assigner == Role.OWNER)
