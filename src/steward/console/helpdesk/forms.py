"""Forms of the staff help desk pages. They only shape input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from steward.console.helpdesk.choices import LEVEL_CHOICES, PRIORITY_CHOICES, STATUS_CHOICES
from steward.helpdesk.services import MAX_MINUTES

MAX_BODY = 100_000
MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} files at a time.")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ReplyForm(forms.Form):
    body = forms.CharField(
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "Write a reply… (Markdown)"}),
    )
    visibility = forms.ChoiceField(
        choices=[("public", "Public reply"), ("internal", "Internal note")],
        initial="public",
        widget=forms.RadioSelect,
    )
    then_status = forms.ChoiceField(
        choices=[("", "Keep status"), *[c for c in STATUS_CHOICES if c[0] != "new"]],
        required=False,
        label="Then set status",
    )
    files = MultipleFileField(label="Attach files")


class TimeEntryForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=MAX_MINUTES)
    billable = forms.BooleanField(required=False, initial=True)
    note = forms.CharField(max_length=500, required=False)
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_date(self):
        return self.cleaned_data["date"] or timezone.localdate()


class HostNameInput(forms.TextInput):
    """A text input for a device's host name with a ``<datalist>`` of ``names`` to suggest
    (a ``<select>`` cannot hold an organization's thousands of devices)."""

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__({"autocomplete": "off", "placeholder": "Host name", **(attrs or {})})
        self.names: list[str] = []

    def render(self, name, value, attrs=None, renderer=None):  # type: ignore[no-untyped-def]
        list_id = f"{(attrs or {}).get('id') or 'id_' + name}-names"
        html = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((n,) for n in self.names))
        return html + format_html('<datalist id="{}">{}</datalist>', list_id, options)


class TicketCreateForm(forms.Form):
    """A ticket opened by a technician on behalf of a requester."""

    organization = forms.TypedChoiceField(coerce=int, choices=())
    requester = forms.TypedChoiceField(
        coerce=int, choices=(), help_text="The person the ticket is for."
    )
    subject = forms.CharField(max_length=255)
    description = forms.CharField(
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. The requester sees it.",
    )
    impact = forms.ChoiceField(choices=LEVEL_CHOICES, initial="medium")
    urgency = forms.ChoiceField(choices=LEVEL_CHOICES, initial="medium")
    priority_override = forms.ChoiceField(
        choices=[("", "From impact x urgency"), *PRIORITY_CHOICES],
        required=False,
        label="Priority",
    )
    queue = forms.TypedChoiceField(coerce=int, choices=(), required=False, empty_value=None)
    category = forms.TypedChoiceField(coerce=int, choices=(), required=False, empty_value=None)
    assignee = forms.TypedChoiceField(coerce=int, choices=(), required=False, empty_value=None)
    device = forms.CharField(
        max_length=255,
        required=False,
        label="Affected device",
        help_text="Host name, display name or FQDN.",
        widget=HostNameInput(),
    )
    tags = forms.CharField(max_length=500, required=False, help_text="Comma-separated.")
    files = MultipleFileField(label="Attachments")


class ArticleForm(forms.Form):
    organization = forms.TypedChoiceField(coerce=int, choices=())
    title = forms.CharField(max_length=255)
    body = forms.CharField(
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text="Markdown: headings, lists, links, code, tables.",
    )
    category = forms.TypedChoiceField(coerce=int, choices=(), required=False, empty_value=None)
    public = forms.BooleanField(
        required=False, help_text="Requesters may read it in the portal (once published)."
    )
    published = forms.BooleanField(required=False, help_text="Drafts are visible to staff only.")


class ReportForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(
        choices=[
            ("organization", "Organization"),
            ("technician", "Technician"),
            ("category", "Category"),
        ],
        initial="organization",
        required=False,
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if start and end and (end - start).days > 366:
            raise forms.ValidationError("Choose a range of at most a year.")
        return data
