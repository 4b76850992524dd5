"""The signed-in person's own account: profile, password, two-factor authentication."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from steward.accounts import services, totp
from steward.accounts.middleware import two_factor_required
from steward.console.common import console_view
from steward.console.core.forms import ProfileForm, TotpCodeForm
from steward.ops.middleware import client_address

# The secret being set up lives in the session until a code proves the app has it; a page
# reload shows the same QR code instead of invalidating what was already scanned.
SETUP_KEY = "steward_totp_setup"


def _organizations_requiring_2fa(user) -> list[str]:
    return list(
        user.memberships.filter(organization__require_2fa=True)
        .order_by("organization__name")
        .values_list("organization__name", flat=True)
    )


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@console_view
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    profile = ProfileForm(request.POST if action == "profile" else None, instance=user)
    password = PasswordChangeForm(user, request.POST if action == "password" else None)
    if action == "profile" and profile.is_valid():
        profile.save()
        messages.success(request, "Your profile has been saved.")
        return redirect("console:account")
    if action == "password" and password.is_valid():
        password.save()
        update_session_auth_hash(request, password.user)  # stay signed in here only
        messages.success(request, "Your password has been changed.")
        return redirect("console:account")
    totp_form = TotpCodeForm()
    # Three forms on one page: none of them takes the focus on arrival.
    for field in (totp_form["code"], password["old_password"]):
        field.field.widget.attrs.pop("autofocus", None)
    return render(
        request,
        "console/account/account.html",
        {
            "profile_form": profile,
            "password_form": password,
            "totp_form": totp_form,
            "required_by": _organizations_requiring_2fa(user),
            "memberships": user.memberships.select_related("organization").order_by(
                "organization__name"
            ),
        },
    )


def _qr_svg(uri: str):
    # The SVG is path geometry that segno generates from the URI: no text from the URI
    # (the email address) appears in it, so it is safe to embed as markup.
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")
    return mark_safe(svg)  # noqa: S308


@sensitive_post_parameters("code")
@never_cache
@console_view
@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.totp_enabled:
        messages.info(request, "Two-factor authentication is already on for your account.")
        return redirect("console:account")
    secret = request.session.get(SETUP_KEY)
    if not isinstance(secret, str) or not secret:
        secret = totp.new_secret()
        request.session[SETUP_KEY] = secret
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp.verify(secret, form.cleaned_data["code"]):
            user.totp_secret = secret
            user.totp_enabled = True
            user.save(update_fields=["totp_secret", "totp_enabled"])
            request.session.pop(SETUP_KEY, None)
            messages.success(
                request,
                "Two-factor authentication is on. You will be asked "
                "for a code each time you sign in.",
            )
            return redirect("console:home")
        form.add_error(
            "code",
            "That code does not match. Check the time on your phone and "
            "enter the code currently shown.",
        )
    uri = totp.provisioning_uri(secret, user.email)
    return render(
        request,
        "console/account/totp_setup.html",
        {
            "form": form,
            "secret": secret,
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr": _qr_svg(uri),
            "required": two_factor_required(user),
            "required_by": _organizations_requiring_2fa(user),
        },
    )


@sensitive_post_parameters("code")
@console_view
@require_POST
def totp_disable(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.totp_enabled:
        return redirect("console:account")
    required_by = _organizations_requiring_2fa(user)
    if required_by:
        messages.error(
            request, f"Two-factor authentication stays on: {', '.join(required_by)} requires it."
        )
        return redirect("console:account")
    form = TotpCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the 6-digit code from your app to turn it off.")
        return redirect("console:account")
    try:
        services.check_totp(user, form.cleaned_data["code"], client_address(request))
    except services.SignInError as exc:
        messages.error(request, "Two-factor authentication is still on: " + exc.detail + ".")
        return redirect("console:account")
    user.totp_enabled = False
    user.totp_secret = ""
    user.save(update_fields=["totp_secret", "totp_enabled"])
    messages.success(request, "Two-factor authentication is off.")
    return redirect("console:account")
