"""What the portal pages share: the login check, the ticket lookup, the public parts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from steward.console.common import principal
from steward.helpdesk import attachments
from steward.helpdesk.models import Attachment, Reply, Ticket
from steward.helpdesk.visibility import get_ticket, visible_replies, visible_tickets
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden, NotFound


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in; ``NotFound`` is a 404 and ``Forbidden`` a 403, as on console pages."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except Forbidden as exc:
            return render(request, "403.html", {"reason": str(exc)}, status=403)

    return wrapper


def my_tickets(request: HttpRequest, queryset: QuerySet[Ticket] | None = None):
    """The portal's tickets: what visibility allows, and in organizations where the user is
    staff only the tickets they requested themselves (the queue belongs to the console)."""
    who = principal(request)
    staff_orgs = who.organization_ids(Capability.VIEW)
    qs = visible_tickets(who, queryset)
    if staff_orgs is None:
        return qs.filter(requester_id=who.user.pk)
    return qs.filter(Q(requester_id=who.user.pk) | ~Q(organization_id__in=staff_orgs))


def portal_ticket(request: HttpRequest, pk: int) -> Ticket:
    ticket = get_ticket(principal(request), pk, queryset=my_tickets(request))
    return ticket


def public_replies(request: HttpRequest, ticket: Ticket) -> QuerySet[Reply]:
    """Public replies only, whoever asks: the portal never shows internal notes."""
    return visible_replies(principal(request), ticket).filter(public=True)


def public_attachments(request: HttpRequest, ticket: Ticket) -> QuerySet[Attachment]:
    qs = attachments.visible_attachments(principal(request), ticket)
    return qs.filter(Q(reply__isnull=True) | Q(reply__public=True))
