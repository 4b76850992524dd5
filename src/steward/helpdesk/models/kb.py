"""Knowledge base articles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from steward.tenancy.models import Organization


class Article(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=255)
    body = models.TextField(help_text="Markdown.")
    public = models.BooleanField(default=False, help_text="Requesters may read it.")
    published = models.BooleanField(default=False)
    category = models.ForeignKey(
        "helpdesk.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title
