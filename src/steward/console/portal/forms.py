"""Forms of the portal."""

from __future__ import annotations

from django import forms

from steward.console.helpdesk.forms import MAX_BODY, MultipleFileField


class PortalTicketForm(forms.Form):
    organization = forms.TypedChoiceField(coerce=int, choices=())
    subject = forms.CharField(
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "In a few words: what is wrong?"}),
    )
    description = forms.CharField(
        max_length=MAX_BODY,
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "placeholder": "What happened, since when, and what you already tried.",
            }
        ),
    )
    device = forms.TypedChoiceField(
        coerce=int,
        choices=(),
        required=False,
        empty_value=None,
        label="Affected device",
        help_text="One of the computers assigned to you.",
    )
    files = MultipleFileField(label="Attachments", help_text="Screenshots, logs. No programs.")


class PortalReplyForm(forms.Form):
    body = forms.CharField(
        max_length=MAX_BODY,
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Write a reply…"}),
    )
    files = MultipleFileField(label="Attach files")
