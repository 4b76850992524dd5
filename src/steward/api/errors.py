"""One error shape for the whole API: ``{"detail": "...", "code": "..."}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from steward.tenancy.scoping import Forbidden, NotFound


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def bad_request(detail: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, code, detail)


def conflict(detail: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, detail)


def _location(error: dict[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "query")]
    return ".".join(parts)


def first_validation_message(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "invalid request"
    error = errors[0]
    where = _location(error)
    message = error.get("msg", "invalid value")
    return f"{where}: {message}" if where else message


def install(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, code: str, detail: str, **extra) -> HttpResponse:
        return api.create_response(
            request, {"detail": detail, "code": code, **extra}, status=status
        )

    @api.exception_handler(ApiError)
    def _api_error(request, exc: ApiError):
        return respond(request, exc.status, exc.code, exc.detail)

    @api.exception_handler(NotFound)
    def _not_found(request, exc):
        return respond(request, 404, "not_found", "not found")

    @api.exception_handler(Forbidden)
    def _forbidden(request, exc):
        return respond(request, 403, "forbidden", str(exc) or "not allowed")

    @api.exception_handler(ValidationError)
    def _invalid(request, exc: ValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors]
        return respond(
            request, 422, "invalid_request", first_validation_message(exc.errors), errors=errors
        )

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        return respond(
            request,
            401,
            "unauthenticated",
            "authentication required: send 'Authorization: Bearer <token>'",
        )

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        return respond(request, exc.status_code, "error", str(exc))
