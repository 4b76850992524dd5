"""Help desk email settings for admins: mailboxes (IMAP in) and email settings (SMTP out).

Everything needs MANAGE in the object's organization; other staff get 403, people of
other organizations 404. The rules (queues of the same organization, write-only password,
PEM check, email channel of the organization) live in ``helpdesk.email.config``, shared
with the API; this module only shapes forms and pages.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.console.common import get_or_404, in_current_org
from steward.console.helpdesk.common import staff_view
from steward.console.helpdesk.queues import sidebar
from steward.console.manage.helpers import require_somewhere
from steward.helpdesk.email import config
from steward.helpdesk.email.models import Mailbox, Security, UnknownSender
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.models import Queue
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability


class MailboxForm(forms.Form):
    organization = forms.TypedChoiceField(coerce=int, label="Organization")
    address = forms.EmailField(help_text="The mailbox's own address; ticket mail replies to it.")
    host = forms.CharField(max_length=255, label="IMAP server")
    security = forms.ChoiceField(
        choices=[
            (Security.SSL.value, "Implicit TLS (port 993)"),
            (Security.STARTTLS.value, "STARTTLS (port 143)"),
        ]
    )
    port = forms.IntegerField(min_value=1, max_value=65535, initial=993)
    username = forms.CharField(max_length=255)
    password = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    folder = forms.CharField(max_length=255, initial="INBOX")
    processed_folder = forms.CharField(
        max_length=255, required=False, help_text="Move processed mail here; blank: mark seen."
    )
    ca_certificates = forms.CharField(
        required=False,
        max_length=100_000,
        label="CA certificates (PEM)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Only for a private CA: when set, only these certificates are trusted.",
    )
    poll_interval = forms.IntegerField(
        min_value=config.MIN_POLL_INTERVAL,
        max_value=config.MAX_POLL_INTERVAL,
        initial=60,
        label="Poll every (seconds)",
    )
    unknown_sender = forms.ChoiceField(
        label="Mail from unknown senders",
        choices=[
            (UnknownSender.CREATE.value, "Make the sender a requester"),
            (UnknownSender.IGNORE.value, "Ignore it"),
            (UnknownSender.TRIAGE.value, "Open a ticket in the triage queue"),
        ],
    )
    queue = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    triage_queue = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    enabled = forms.BooleanField(required=False, initial=True, label="Poll this mailbox")


class EmailSettingsForm(forms.Form):
    channel = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Email channel",
        help_text="A notification channel of kind email: its SMTP server sends ticket mail.",
    )
    from_address = forms.EmailField(required=False, help_text="Blank: the channel's address.")
    from_name = forms.CharField(
        max_length=100, required=False, help_text="Blank: “<org> help desk”."
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Send ticket mail")


def _mailbox_form(request: HttpRequest, mailbox: Mailbox | None, bound: bool = True) -> MailboxForm:
    orgs = list(require_somewhere(request, Capability.MANAGE).order_by("name"))
    initial: dict = {}
    if mailbox is not None:
        initial = {f: getattr(mailbox, f) for f in config.MAILBOX_FIELDS if not f.endswith("_id")}
        initial.update(
            organization=mailbox.organization_id,
            queue=mailbox.queue_id,
            triage_queue=mailbox.triage_queue_id,
        )
    form = MailboxForm((request.POST or None) if bound else None, initial=initial)
    form.fields["organization"].choices = [(o.pk, o.name) for o in orgs]
    if len(orgs) == 1 or mailbox is not None:
        form.fields["organization"].widget = forms.HiddenInput()
        form.fields["organization"].initial = mailbox.organization_id if mailbox else orgs[0].pk
    org_ids = [mailbox.organization_id] if mailbox else [o.pk for o in orgs]
    queues = Queue.objects.filter(organization_id__in=org_ids).select_related("organization")
    several = len(org_ids) > 1
    choices = [("", "No queue")] + [
        (q.pk, f"{q.name} ({q.organization.name})" if several else q.name) for q in queues
    ]
    form.fields["queue"].choices = choices
    form.fields["triage_queue"].choices = choices
    form.fields["password"].help_text = (
        "Set: leave empty to keep it." if mailbox and mailbox.password else "Not set."
    )
    return form


def _save_mailbox(request: HttpRequest, form: MailboxForm, mailbox: Mailbox | None):
    data = dict(form.cleaned_data)
    if mailbox is None:
        org = get_or_404(request, Organization.objects, Capability.MANAGE, pk=data["organization"])
        mailbox = Mailbox(organization=org)
    del data["organization"]
    data["queue_id"] = data.pop("queue")
    data["triage_queue_id"] = data.pop("triage_queue")
    data["password"] = data["password"] or None  # empty field: keep the stored password
    try:
        return config.save_mailbox(mailbox, data)
    except HelpdeskError as exc:
        field, _, _ = exc.detail.partition(":")
        field = field.removesuffix("_id")
        form.add_error(field if field in form.fields else None, exc.detail)
        return None


def _page(request: HttpRequest, template: str, **context) -> HttpResponse:
    return render(request, f"console/helpdesk/{template}", {**sidebar(request, "email"), **context})


@staff_view
def email_overview(request: HttpRequest) -> HttpResponse:
    orgs = require_somewhere(request, Capability.MANAGE).order_by("name")
    mailboxes = in_current_org(
        request, Mailbox.objects.select_related("organization", "queue"), Capability.MANAGE
    )
    rows = []
    for org in orgs:
        found = config.email_settings_of(org.pk)
        rows.append({"organization": org, "settings": found})
    return _page(
        request,
        "email_settings.html",
        mailboxes=mailboxes.order_by("organization__name"),
        orgs=rows,
    )


@staff_view
def mailbox_create(request: HttpRequest) -> HttpResponse:
    form = _mailbox_form(request, None)
    if request.method == "POST" and form.is_valid():
        mailbox = _save_mailbox(request, form, None)
        if mailbox is not None:
            messages.success(request, f"Mailbox {mailbox.address} created.")
            return redirect("console:helpdesk-mailbox", mailbox.pk)
    return _page(request, "mailbox_form.html", form=form, mailbox=None)


@staff_view
def mailbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_or_404(request, Mailbox.objects, Capability.MANAGE, pk=pk)
    form = _mailbox_form(request, mailbox)
    if request.method == "POST" and form.is_valid() and _save_mailbox(request, form, mailbox):
        messages.success(request, f"Mailbox {mailbox.address} saved.")
        return redirect("console:helpdesk-mailbox", mailbox.pk)
    return _page(request, "mailbox_form.html", form=form, mailbox=mailbox)


@staff_view
@require_POST
def mailbox_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Connect with the saved settings and show the outcome on the mailbox's page."""
    mailbox = get_or_404(request, Mailbox.objects, Capability.MANAGE, pk=pk)
    result = config.try_connection(mailbox)
    form = _mailbox_form(request, mailbox, bound=False)  # the saved settings, not the POST
    return _page(request, "mailbox_form.html", form=form, mailbox=mailbox, test=result)


@staff_view
@require_POST
def mailbox_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_or_404(request, Mailbox.objects, Capability.MANAGE, pk=pk)
    mailbox.delete()
    messages.success(request, f"Mailbox {mailbox.address} deleted.")
    return redirect("console:helpdesk-email")


@staff_view
def email_settings_edit(request: HttpRequest, org_id: int) -> HttpResponse:
    org = get_or_404(request, Organization.objects, Capability.MANAGE, pk=org_id)
    found = config.email_settings_of(org.pk)
    initial = {
        "channel": found.channel_id,
        "from_address": found.from_address,
        "from_name": found.from_name,
        "enabled": found.enabled,
    }
    form = EmailSettingsForm(request.POST or None, initial=initial)
    channels = config.email_channels(org.pk).order_by("name")
    form.fields["channel"].choices = [("", "None: send no ticket mail")] + [
        (c.pk, c.name) for c in channels
    ]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["channel_id"] = data.pop("channel")
        try:
            config.save_email_settings(org.pk, data)
        except HelpdeskError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Email settings of {org.name} saved.")
            return redirect("console:helpdesk-email")
    return _page(
        request,
        "email_settings_form.html",
        form=form,
        organization=org,
        has_channels=bool(channels),
    )
