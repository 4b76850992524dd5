"""Users and memberships of the organizations the caller manages."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.accounts.models import User
from steward.console.common import console_view, get_or_404, in_current_org, principal
from steward.console.manage.forms import MembershipForm, UserCreateForm
from steward.console.manage.helpers import (
    assignable_roles,
    paginate,
    require_somewhere,
    role_choices,
)
from steward.tenancy import services
from steward.tenancy.models import Membership
from steward.tenancy.roles import RANK, Capability, Role, can_assign
from steward.tenancy.scoping import Forbidden


@console_view
def user_list(request: HttpRequest) -> HttpResponse:
    require_somewhere(request, Capability.MANAGE)
    who = principal(request)
    memberships = in_current_org(
        request,
        Membership.objects.select_related("user", "organization").order_by(
            "user__email", "organization__name"
        ),
        Capability.MANAGE,
    )
    page = paginate(request, memberships)
    for m in page:
        mine = who.role_in(m.organization_id)
        m.can_change = mine is not None and can_assign(mine, Role(m.role))  # type: ignore[attr-defined]
    return render(
        request,
        "console/manage/users.html",
        {
            "page": page,
        },
    )


@console_view
def user_create(request: HttpRequest) -> HttpResponse:
    """Create a user with a password, or add an existing user, with a role in one org."""
    orgs = require_somewhere(request, Capability.MANAGE)
    who = principal(request)
    # The strongest role the caller holds among these organizations bounds the choices; the
    # role in the chosen organization is checked below, and once more by the service.
    held = [r for r in (who.role_in(pk) for pk in orgs.values_list("pk", flat=True)) if r]
    strongest = max(held, key=RANK.__getitem__)
    form = UserCreateForm(
        request.POST or None, organizations=orgs, roles=role_choices(assignable_roles(strongest))
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org, role = data["organization"], Role(data["role"])
        mine = who.role_in(org.pk)
        if mine is None or not can_assign(mine, role):
            form.add_error("role", f"Your role in {org} cannot grant '{role.value}'.")
        else:
            with transaction.atomic():
                user = form.existing_user or User.objects.create_user(
                    data["email"], data["password"], name=data["name"]
                )
                services.set_membership(who, org, user, role)
            verb = "added to" if form.existing_user else "created in"
            messages.success(request, f"{user.email} {verb} {org} as {role.value}.")
            return redirect("console:users")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": "Add a user",
            "form": form,
            "submit": "Add user",
            "cancel": "console:users",
        },
    )


def _changeable_membership(request: HttpRequest, pk: int) -> tuple[Membership, Role]:
    """The membership, if the caller manages its organization and outranks (or equals) it."""
    membership = get_or_404(
        request, Membership.objects.select_related("user", "organization"), Capability.MANAGE, pk=pk
    )
    mine = principal(request).role_in(membership.organization_id)
    if mine is None or not can_assign(mine, Role(membership.role)):
        raise Forbidden("You cannot change a member whose role is above yours.")
    return membership, mine


@console_view
def membership_edit(request: HttpRequest, pk: int) -> HttpResponse:
    membership, mine = _changeable_membership(request, pk)
    form = MembershipForm(
        request.POST or None,
        initial={"role": membership.role},
        roles=role_choices(assignable_roles(mine)),
    )
    if request.method == "POST" and form.is_valid():
        role = Role(form.cleaned_data["role"])
        try:
            services.set_membership(
                principal(request), membership.organization, membership.user, role
            )
        except Forbidden as exc:  # the grant was checked above: this is the last-owner rule
            form.add_error("role", f"{str(exc).capitalize()}.")
        else:
            messages.success(
                request,
                f"{membership.user.email} is now {role.value} in {membership.organization}.",
            )
            return redirect("console:users")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": f"Role of {membership.user.email}",
            "subtitle": membership.organization.name,
            "form": form,
            "submit": "Save",
            "cancel": "console:users",
        },
    )


@console_view
@require_POST
def membership_delete(request: HttpRequest, pk: int) -> HttpResponse:
    membership, _ = _changeable_membership(request, pk)
    try:
        services.remove_membership(principal(request), membership)
    except Forbidden as exc:  # permission was checked above: this is the last-owner rule
        messages.error(
            request,
            f"{str(exc).capitalize()}: {membership.user.email} stays in {membership.organization}.",
        )
    else:
        messages.success(
            request, f"{membership.user.email} removed from {membership.organization}."
        )
    return redirect("console:users")
