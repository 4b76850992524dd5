"""Organization -> Site -> (Device, in inventory); Membership ties users to organizations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.text import slugify

from steward.tenancy.roles import CHOICES, Role


class Organization(models.Model):
    """A client of the MSP, or the company itself. The unit of tenant isolation."""

    tenant_path = "pk"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    require_2fa = models.BooleanField(
        default=False, help_text="Members must set up two-factor authentication to sign in."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = unique_slug(Organization, self.name)
        super().save(*args, **kwargs)

    @property
    def organization_id(self) -> int:
        return self.pk


class Site(models.Model):
    """A location or network of an organization; enrollment tokens belong to a site."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="site_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    tenant_path = "organization"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=CHOICES, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


def unique_slug(model: type[models.Model], name: str) -> str:
    base = slugify(name)[:90] or "org"
    slug, n = base, 1
    while model._default_manager.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
