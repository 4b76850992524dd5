"""Forms of the management pages.

Choice fields get their querysets from the view, already scoped by ``in_current_org``, so a
form can never offer (or accept) another tenant's organization or site.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from steward.accounts.models import User
from steward.tenancy.models import Organization, Site
from steward.tenancy.roles import CHOICES, Role


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=200)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Organization.objects.filter(name__iexact=name).exists():
            raise ValidationError("An organization with this name exists already.")
        return name


class OrganizationEditForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "require_2fa"]
        labels = {"require_2fa": "Require two-factor authentication"}
        help_texts = {
            "require_2fa": "Members without two-factor authentication (you included) are sent "
            "to set it up before they can use the console.",
        }


class SiteCreateForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, organizations: QuerySet[Organization], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations
        if organizations.count() == 1:
            field.initial = organizations.first()


class SiteEditForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = Site.objects.filter(organization_id=self.instance.organization_id)
        if others.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError("This organization has a site with this name already.")
        return name


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=CHOICES)

    def __init__(self, *args, roles: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles  # type: ignore[attr-defined]


class UserCreateForm(forms.Form):
    """Create a user with a password, or add an existing user (password left empty)."""

    email = forms.EmailField(max_length=254)
    name = forms.CharField(
        max_length=200, required=False, help_text="Ignored when adding an existing user."
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Required for a new user. Leave empty to add an existing user by email.",
    )
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    role = forms.ChoiceField(choices=CHOICES, initial=Role.VIEWER.value)

    def __init__(
        self, *args, organizations: QuerySet[Organization], roles: list[tuple[str, str]], **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations
        if organizations.count() == 1:
            field.initial = organizations.first()
        self.fields["role"].choices = roles  # type: ignore[attr-defined]
        self.existing_user: User | None = None

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict:
        data = super().clean() or {}
        email, password = data.get("email"), data.get("password")
        if not email:
            return data
        self.existing_user = User.objects.filter(email=email).first()
        if self.existing_user is not None:
            if password:
                self.add_error(
                    "password",
                    "A user with this email exists already: leave the "
                    "password empty to add them to the organization.",
                )
            org = data.get("organization")
            if org is not None and self.existing_user.memberships.filter(organization=org).exists():
                self.add_error(
                    "email",
                    f"{email} is a member of {org} already: change their role in the list instead.",
                )
        elif not password:
            self.add_error("password", "A new user needs a password.")
        else:
            try:
                validate_password(password, User(email=email, name=data.get("name", "")))
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class EnrollmentTokenForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    name = forms.CharField(
        max_length=200, help_text="What the token is for, e.g. “Office laptops, March rollout”."
    )
    expires_in_hours = forms.IntegerField(
        label="Expires in (hours)", initial=24, min_value=1, max_value=24 * 365
    )
    max_uses = forms.IntegerField(
        label="Maximum uses",
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text="Empty: unlimited until it expires.",
    )

    def __init__(self, *args, sites: QuerySet[Site], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites
        field.label_from_instance = lambda s: f"{s.organization} / {s.name}"  # type: ignore[method-assign]
        if sites.count() == 1:
            field.initial = sites.first()


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Who or what uses it, e.g. “backup script”.")
    role = forms.ChoiceField(
        label="Role ceiling",
        required=False,
        choices=[("", "None: my own roles"), *CHOICES],
        help_text="The token acts with the lower of this and your role in each organization.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        initial=90,
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Empty: never expires.",
    )

    def clean_role(self) -> Role | None:
        value = self.cleaned_data["role"]
        return Role(value) if value else None


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(label="Object type", required=False)
    actor = forms.CharField(required=False, max_length=254)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, object_types: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [  # type: ignore[attr-defined]
            ("", "Any"),
            *((t, t) for t in object_types),
        ]

    def clean(self) -> dict:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data
