"""Template context shared by every console page."""

from __future__ import annotations

from django.http import HttpRequest

from steward import __version__


def console(request: HttpRequest) -> dict:
    return {"steward_version": __version__}
