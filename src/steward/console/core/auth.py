"""Sign-in (password, then the TOTP step when enabled) and sign-out.

The checks themselves (throttling, password, TOTP) live in ``accounts.services`` and are
shared with the API's token exchange; these views only carry the state between the two
steps and start the session.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import auth, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from steward.accounts import services
from steward.accounts.models import User
from steward.console.core.forms import LoginForm, TotpCodeForm
from steward.console.core.redirects import safe_next
from steward.ops.middleware import client_address

# Between a correct password and the TOTP code: who, since when, where to go afterwards.
PENDING_KEY = "steward_pending_2fa"
# The second step must follow soon: a password typed at a shared computer and abandoned
# must not leave a half-signed-in session behind for long.
PENDING_MAX_AGE = 300  # seconds


def _error_message(error: services.SignInError) -> str:
    if error.code == "throttled":
        minutes = max(1, settings.STEWARD["login_lockout"] // 60)
        return (
            "Too many failed sign-in attempts. Sign-in is paused for this account: "
            f"try again in {minutes} minutes, or ask an administrator."
        )
    if error.code == "invalid_totp":
        return "That code is wrong or has expired. Enter the current code from your app."
    return "Wrong email or password."


def _status(error: services.SignInError | None) -> int:
    return 429 if error is not None and error.code == "throttled" else 200


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated:
        return redirect(next_url or "console:home")
    form = LoginForm(request.POST or None)
    error: services.SignInError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            result = services.check_password(
                form.cleaned_data["email"],
                form.cleaned_data["password"],
                client_address(request),
            )
        except services.SignInError as exc:
            error = exc
        else:
            if result.needs_totp:
                request.session[PENDING_KEY] = {
                    "user_id": result.user.pk,
                    "at": time.time(),
                    "next": next_url or "",
                }
                return redirect("console:login-2fa")
            auth.login(request, result.user)  # rotates the session key
            return redirect(next_url or "console:home")
    if form.is_bound:  # the email is usually right: retyping starts at the password
        form.fields["email"].widget.attrs.pop("autofocus", None)
        form.fields["password"].widget.attrs["autofocus"] = True
    context = {
        "form": form,
        "error": _error_message(error) if error else "",
        "throttled": error is not None and error.code == "throttled",
        "next": next_url or "",
    }
    return render(request, "console/auth/login.html", context, status=_status(error))


def _pending_user(request: HttpRequest) -> tuple[User | None, str]:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        request.session.pop(PENDING_KEY, None)
        return None, ""
    user = User.objects.filter(pk=pending.get("user_id"), is_active=True).first()
    return user, pending.get("next", "")


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_totp(request: HttpRequest) -> HttpResponse:
    user, next_url = _pending_user(request)
    if user is None:
        messages.info(request, "Your sign-in timed out. Enter your email and password again.")
        return redirect("console:login")
    form = TotpCodeForm(request.POST or None)
    error: services.SignInError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            services.check_totp(user, form.cleaned_data["code"], client_address(request))
        except services.SignInError as exc:
            error = exc
        else:
            request.session.pop(PENDING_KEY, None)
            auth.login(request, user)  # rotates the session key
            return redirect(safe_next(request, next_url) or "console:home")
    context = {
        "form": form,
        "email": user.email,
        "error": _error_message(error) if error else "",
        "throttled": error is not None and error.code == "throttled",
    }
    return render(request, "console/auth/login_2fa.html", context, status=_status(error))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    messages.info(request, "You have signed out.")
    return redirect("console:login")
