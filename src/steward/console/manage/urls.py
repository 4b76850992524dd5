"""Management pages under /settings/: organizations, sites, users, tokens, audit log."""

from django.urls import path

from steward.console.manage import audit, enrollment, orgs, sites, tokens, users

urlpatterns = [
    path("settings/organizations/", orgs.org_list, name="orgs"),
    path("settings/organizations/new/", orgs.org_create, name="org-create"),
    path("settings/organizations/<int:pk>/edit/", orgs.org_edit, name="org-edit"),
    path("settings/sites/", sites.site_list, name="sites"),
    path("settings/sites/new/", sites.site_create, name="site-create"),
    path("settings/sites/<int:pk>/edit/", sites.site_edit, name="site-edit"),
    path("settings/sites/<int:pk>/delete/", sites.site_delete, name="site-delete"),
    path("settings/users/", users.user_list, name="users"),
    path("settings/users/new/", users.user_create, name="user-create"),
    path("settings/memberships/<int:pk>/edit/", users.membership_edit, name="membership-edit"),
    path(
        "settings/memberships/<int:pk>/delete/", users.membership_delete, name="membership-delete"
    ),
    path("settings/enrollment-tokens/", enrollment.token_list, name="enrollment-tokens"),
    path(
        "settings/enrollment-tokens/new/", enrollment.token_create, name="enrollment-token-create"
    ),
    path(
        "settings/enrollment-tokens/<int:pk>/revoke/",
        enrollment.token_revoke,
        name="enrollment-token-revoke",
    ),
    path("settings/api-tokens/", tokens.token_list, name="api-tokens"),
    path("settings/api-tokens/new/", tokens.token_create, name="api-token-create"),
    path("settings/api-tokens/<int:pk>/revoke/", tokens.token_revoke, name="api-token-revoke"),
    path("settings/audit/", audit.audit_list, name="audit"),
]
