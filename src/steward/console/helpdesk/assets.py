"""The help desk's small script, served from a template.

The console has one static script (``static/steward/steward.js``) owned by the core; until
the help desk's behaviour moves into a static file of its own, it is served from here with
the same rules: same origin (a strict Content-Security-Policy may forbid inline scripts),
no framework, and every page works without it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from steward import __version__


@require_GET
@cache_control(public=True, max_age=3600)
def helpdesk_js(request: HttpRequest) -> HttpResponse:
    body = render_to_string("console/helpdesk/helpdesk.js", {"version": __version__})
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")
