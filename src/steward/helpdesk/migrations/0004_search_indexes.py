"""Indexes for the ticket list and search: tickets newest first across organizations, a
requester's tickets in an organization, an organization's articles among its search
documents.

AddIndex only creates an index, so the FTS5 triggers of 0002 stay in place on SQLite.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0003_email_gateway")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["organization", "requester"], name="ticket_org_requester"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["-created_at", "-id"], name="ticket_newest"),
        ),
        migrations.AddIndex(
            model_name="searchdocument",
            index=models.Index(fields=["organization", "kind"], name="searchdoc_org_kind"),
        ),
    ]
