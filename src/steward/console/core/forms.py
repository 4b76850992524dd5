"""Forms of the console's core pages: sign-in, account, device edits."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from steward.accounts.models import User
from steward.inventory.models import Device, Site
from steward.metrics.models import MAX_INTERVAL, MIN_INTERVAL

TAG_MAX_LENGTH = 64  # Tag.name's max_length
TAGS_MAX = 100  # the API's limit on tags per device edit


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=16,
        help_text="The 6-digit code your authenticator app shows now.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        code = "".join(ch for ch in self.cleaned_data["code"] if ch.isdigit())
        if len(code) != 6:
            raise forms.ValidationError("Enter the 6 digits your app shows.")
        return code


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name"]
        labels = {"name": "Display name"}
        help_texts = {
            "name": "Shown in the audit log and on tickets. Your email stays your sign-in name."
        }


class DeviceEditForm(forms.ModelForm):
    """Display name, site, tags and notes: what a technician may change on a device."""

    tags = forms.CharField(
        required=False,
        max_length=TAGS_MAX * (TAG_MAX_LENGTH + 2),
        help_text="Separate tags with commas, e.g. “server, backup, floor-2”.",
    )

    class Meta:
        model = Device
        fields = ["display_name", "site", "notes"]
        help_texts = {
            "display_name": "Shown instead of the host name; leave empty to use the host name.",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, sites: QuerySet[Site], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["site"].empty_label = None
        if not self.is_bound and self.instance.pk:
            self.initial["tags"] = ", ".join(t.name for t in self.instance.tags.all())

    def clean_tags(self) -> list[str]:
        names = sorted({n.strip() for n in self.cleaned_data["tags"].split(",") if n.strip()})
        too_long = [n for n in names if len(n) > TAG_MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                f"A tag has at most {TAG_MAX_LENGTH} characters: “{too_long[0][:20]}…” is longer."
            )
        if len(names) > TAGS_MAX:
            raise forms.ValidationError(f"A device has at most {TAGS_MAX} tags.")
        return names


class CollectionIntervalForm(forms.Form):
    """A device's metrics collection interval: its own, or the wider scope's."""

    mode = forms.ChoiceField(
        choices=(("inherit", "Inherit"), ("own", "Own interval")),
        widget=forms.RadioSelect,
        label="Interval",
    )
    seconds = forms.IntegerField(
        required=False,
        min_value=MIN_INTERVAL,
        max_value=MAX_INTERVAL,
        label="Seconds between collections",
        help_text=f"{MIN_INTERVAL} to {MAX_INTERVAL}",
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("mode") == "own"
            and data.get("seconds") is None
            and "seconds" not in self.errors
        ):
            self.add_error("seconds", "Give the seconds between collections.")
        return data
