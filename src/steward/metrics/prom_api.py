"""The Prometheus HTTP API (query side) at ``/prometheus/api/v1/``, for Grafana and the console.

Implements ``query``, ``query_range``, ``series``, ``labels``, ``label/<name>/values``,
``metadata`` and ``status/buildinfo`` with Prometheus' JSON envelope, parameter parsing
and error types (https://prometheus.io/docs/prometheus/latest/querying/api/), over
``steward.promql`` and the store from ``steward.metrics.store.get_store``.

Who may read: an API token (``Authorization: Bearer <token>``, or HTTP basic auth with the
token as the password, which is what Grafana's data source form offers) or a signed-in
console session; POSTs on a session need the CSRF token like any form. Every read is
limited to the organizations where the caller holds ``view``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import wraps
from typing import Any

import promql_parser as pp
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from steward.accounts.models import ApiToken
from steward.metrics.store import get_store  # tests swap the store through this name
from steward.ops.middleware import client_address
from steward.promql import QueryError, Result, ResultType, evaluate_instant, evaluate_range
from steward.promql.engine import parse
from steward.promql.selectors import matchers_of
from steward.tenancy.scoping import Principal
from steward.tsdb.types import LABEL_NAME_RE, Matcher

log = logging.getLogger("steward.metrics.prom_api")

# Grafana enables features by the version it reads here; our grammar is Prometheus 2.45's
# (the parser's), so that is the version we claim.
PROMETHEUS_VERSION = "2.45.0"
MAX_POINTS = 11_000  # Prometheus' limit of points per series in a range query
MIN_TIME_MS = -(2**63) // 1_000_000  # Prometheus' minTime / maxTime, in ms
MAX_TIME_MS = (2**63 - 1) // 1_000_000
# Prometheus formats its boundary times with a year Python cannot parse; accept them as-is.
_BOUNDARY_TIMES = {
    "-292273086-05-16T16:47:06Z": MIN_TIME_MS,
    "292277025-08-18T07:12:54.999999999Z": MAX_TIME_MS,
}


class ApiError(Exception):
    def __init__(self, message: str, error_type: str = "bad_data", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


# -- encoding -------------------------------------------------------------------------------


def format_value(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest exact digits, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text  # negative zero stays "-0", as Go (and so Prometheus) prints it


def _point(ts_ms: int, value: float) -> list[Any]:
    return [ts_ms / 1000, format_value(value)]


def result_data(result: Result) -> dict[str, Any]:
    """The ``data`` object of a query response."""
    t = result.time_ms or 0
    if result.type is ResultType.SCALAR:
        assert result.scalar is not None
        return {"resultType": "scalar", "result": _point(t, result.scalar)}
    if result.type is ResultType.STRING:
        return {"resultType": "string", "result": [t / 1000, result.string]}
    if result.type is ResultType.VECTOR:
        items = [
            {"metric": s.labels, "value": _point(s.timestamps[0], s.values[0])}
            for s in result.series
        ]
        return {"resultType": "vector", "result": items}
    items = [
        {
            "metric": s.labels,
            "values": [_point(ts, v) for ts, v in zip(s.timestamps, s.values, strict=True)],
        }
        for s in result.series
    ]
    return {"resultType": "matrix", "result": items}


def _success(data: Any) -> HttpResponse:
    body = json.dumps({"status": "success", "data": data}, separators=(",", ":"))
    return HttpResponse(body, content_type="application/json")


def _error(message: str, error_type: str, status: int) -> HttpResponse:
    body = json.dumps({"status": "error", "errorType": error_type, "error": message})
    return HttpResponse(body, content_type="application/json", status=status)


# -- authentication -------------------------------------------------------------------------


def _token_from_header(header: str) -> str | None:
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]  # any user name; the password is the token
    return None


def authenticate(request: HttpRequest) -> Principal | None:
    """A token in the Authorization header, else the console session; None if neither."""
    header = request.headers.get("Authorization")
    address = client_address(request)
    if header:
        secret = _token_from_header(header)
        token = ApiToken.authenticate(secret) if secret else None
        if token is None:
            return None  # a wrong credential never falls back to the session
        return Principal(token.user, token.role_ceiling, source="api", address=address)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from steward.accounts.middleware import two_factor_required

    if two_factor_required(user):
        return None
    if request.method == "POST":
        # The view is csrf_exempt for token clients; a session still needs the CSRF token.
        rejected = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
            request, lambda r: HttpResponse(), (), {}
        )
        if rejected is not None:
            raise ApiError("CSRF verification failed", "forbidden", 403)
    return Principal(user, source="console", address=address)


View = Callable[..., HttpResponse]


def prometheus_view(view: Callable[..., Any]) -> View:
    """GET or POST (form-encoded, as Grafana sends), authenticated, Prometheus' envelope."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return _error("method not allowed", "bad_data", 405)
        try:
            principal = authenticate(request)
            if principal is None:
                response = _error("authentication required", "unauthorized", 401)
                response["WWW-Authenticate"] = 'Basic realm="steward", charset="UTF-8"'
                return response
            return _success(view(request, principal, *args, **kwargs))
        except ApiError as exc:
            return _error(exc.message, exc.error_type, exc.status)
        except QueryError as exc:
            if exc.execution:
                return _error(exc.message, "execution", 422)
            return _error(exc.message, "bad_data", 400)
        except Exception:
            # Prometheus' errorInternal: Grafana shows a JSON error, not an HTML page.
            log.exception("Prometheus API %s failed", request.path)
            return _error("internal server error (see the server log)", "internal", 500)

    return wrapper


# -- parameters -----------------------------------------------------------------------------


def _param(request: HttpRequest, name: str) -> str | None:
    value = request.POST.get(name)
    return value if value is not None else request.GET.get(name)


def _params(request: HttpRequest, name: str) -> list[str]:
    return request.POST.getlist(name) + request.GET.getlist(name)


_FRACTION = re.compile(r"([.,]\d{6})\d+")
# Go's time.RFC3339Nano as time.Parse reads it: date, "T", time with seconds, at most nine
# fraction digits (after "." or ","), and "Z" or a "+hh:mm" offset. datetime.fromisoformat
# alone also takes a bare date, no offset, "hh:mm", basic format, ...: Prometheus does not.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)


# Go's strconv.ParseFloat syntax, with which Prometheus' parseTime reads a Unix time: ASCII
# digits, "_" only between digits (or after "0x"), hexadecimal only with a "p" exponent, and
# nothing around the number. Python's float() also takes surrounding whitespace and other
# scripts' digits (Arabic-Indic, fullwidth): Prometheus 2.42 answers 400 to those.
_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_DECIMAL = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
)
_GO_HEX = re.compile(
    rf"[+-]?0[xX](?:_?{_HEX_DIGITS}(?:\.(?:{_HEX_DIGITS})?)?|\.{_HEX_DIGITS})"
    rf"[pP][+-]?{_DIGITS}"
)


def _go_finite_float(text: str) -> float | None:
    """The finite number Go's ``strconv.ParseFloat`` reads from ``text``, else None.

    Go also reads "NaN" and "Inf"; Prometheus then evaluates at whatever Go's float-to-int64
    conversion makes of them (on amd64 the time -9223372036.854), as it does for times
    beyond int64 nanoseconds. Both are 400s here (see ``parse_time``), so they are None.
    """
    try:
        if _GO_DECIMAL.fullmatch(text):
            value = float(text.replace("_", ""))
        elif _GO_HEX.fullmatch(text):
            value = float.fromhex(text.replace("_", ""))
        else:
            return None
    except OverflowError:  # fromhex beyond float range; Go's ErrRange
        return None
    return value if math.isfinite(value) else None  # float() gives inf where Go errs


def parse_time(text: str, name: str) -> int:
    """Unix seconds (a Go float) or RFC 3339, to ms — Prometheus' ``parseTime``.

    Unlike Prometheus 2.42, NaN, ±Inf and times beyond its range (int64 nanoseconds) are
    400s: it evaluates them at a time its float-to-int64 overflow invents.
    """
    seconds = _go_finite_float(text)
    if seconds is not None:
        ms = round(seconds * 1000)
        if MIN_TIME_MS <= ms <= MAX_TIME_MS:  # Prometheus' time range (int64 ns)
            return ms
    if text in _BOUNDARY_TIMES:
        return _BOUNDARY_TIMES[text]
    try:
        if not _RFC3339.fullmatch(text):
            raise ValueError(text)
        # datetime keeps microseconds: drop digits beyond them (RFC 3339 allows nanoseconds).
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    except ValueError:
        raise ApiError(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
        ) from None
    return round(parsed.timestamp() * 1000)


def parse_duration(text: str, name: str) -> int:
    """Float seconds or a Prometheus duration (``1m30s``), to ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            if abs(seconds) * 1e9 > 2**63 - 1:
                raise ApiError(
                    f'invalid parameter "{name}": cannot parse "{text}" to a valid duration. '
                    "It overflows int64"
                )
            return round(seconds * 1000)
    try:
        return round(pp.parse_duration(text).total_seconds() * 1000)
    except (ValueError, OverflowError):
        raise ApiError(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid duration'
        ) from None


def _time_param(request: HttpRequest, name: str, default: int) -> int:
    text = _param(request, name)
    return default if text in (None, "") else parse_time(text, name)


def _now_ms() -> int:
    return round(datetime.now(UTC).timestamp() * 1000)


def _required(request: HttpRequest, name: str) -> str:
    value = _param(request, name)
    if value in (None, ""):
        raise ApiError(f'invalid parameter "{name}": missing')
    return value


def _match_sets(request: HttpRequest) -> list[list[Matcher]]:
    """Each ``match[]`` series selector as a list of store matchers."""
    sets = []
    for text in _params(request, "match[]"):
        try:
            node = parse(text)
        except QueryError as exc:
            raise ApiError(f'invalid parameter "match[]": {exc.message}') from None
        if not isinstance(node, pp.VectorSelector):
            raise ApiError(f'invalid parameter "match[]": "{text}" is not a series selector')
        sets.append(matchers_of(node))
    return sets


# -- endpoints ------------------------------------------------------------------------------


@prometheus_view
def query(request: HttpRequest, principal: Principal) -> dict[str, Any]:
    expr = _required(request, "query")
    at = _time_param(request, "time", _now_ms())
    result = evaluate_instant(expr, at, get_store(), principal.organization_ids())
    return result_data(result)


@prometheus_view
def query_range(request: HttpRequest, principal: Principal) -> dict[str, Any]:
    expr = _required(request, "query")
    start = parse_time(_required(request, "start"), "start")
    end = parse_time(_required(request, "end"), "end")
    if end < start:
        raise ApiError('invalid parameter "end": end timestamp must not be before start time')
    step = parse_duration(_required(request, "step"), "step")
    if step <= 0:
        raise ApiError(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    if (end - start) // step > MAX_POINTS:
        raise ApiError(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)"
        )
    result = evaluate_range(expr, start, end, step, get_store(), principal.organization_ids())
    return result_data(result)


@prometheus_view
def series(request: HttpRequest, principal: Principal) -> list[dict[str, str]]:
    match_sets = _match_sets(request)
    if not match_sets:
        raise ApiError("no match[] parameter provided")
    start = _time_param(request, "start", MIN_TIME_MS)
    end = _time_param(request, "end", MAX_TIME_MS)
    store, org_ids = get_store(), principal.organization_ids()
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for matchers in match_sets:
        for labels in store.series(org_ids, matchers, start, end):
            seen.setdefault(tuple(sorted(labels.items())), labels)
    return [seen[key] for key in sorted(seen)]


@prometheus_view
def labels(request: HttpRequest, principal: Principal) -> list[str]:
    store, org_ids = get_store(), principal.organization_ids()
    names: set[str] = set()
    for matchers in _match_sets(request) or [[]]:
        names.update(store.label_names(org_ids, matchers))
    return sorted(names)


@prometheus_view
def label_values(request: HttpRequest, principal: Principal, name: str) -> list[str]:
    if not LABEL_NAME_RE.match(name):
        raise ApiError(f'invalid label name: "{name}"')
    store, org_ids = get_store(), principal.organization_ids()
    values: set[str] = set()
    for matchers in _match_sets(request) or [[]]:
        values.update(store.label_values(org_ids, name, matchers))
    return sorted(values)


@prometheus_view
def metadata(request: HttpRequest, principal: Principal) -> dict[str, list[dict[str, str]]]:
    metric = _param(request, "metric") or None
    limit_text = _param(request, "limit")
    try:
        limit = int(limit_text) if limit_text else -1
    except ValueError:
        raise ApiError('invalid parameter "limit": not a number') from None
    out: dict[str, list[dict[str, str]]] = {}
    for meta in get_store().metadata(principal.organization_ids(), metric):
        if 0 <= limit <= len(out):
            break
        out.setdefault(meta.metric, []).append(
            {"type": meta.type.value, "help": meta.help, "unit": meta.unit}
        )
    return out


@prometheus_view
def buildinfo(request: HttpRequest, principal: Principal) -> dict[str, str]:
    from steward import __version__

    return {
        "version": PROMETHEUS_VERSION,
        "revision": f"steward-{__version__}",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }


@prometheus_view
def query_exemplars(request: HttpRequest, principal: Principal) -> list[Any]:
    """Grafana asks for exemplars alongside queries; Steward stores none."""
    return []


urlpatterns = [
    path("query", query, name="prometheus-query"),
    path("query_range", query_range, name="prometheus-query-range"),
    path("query_exemplars", query_exemplars, name="prometheus-query-exemplars"),
    path("series", series, name="prometheus-series"),
    path("labels", labels, name="prometheus-labels"),
    path("label/<str:name>/values", label_values, name="prometheus-label-values"),
    path("metadata", metadata, name="prometheus-metadata"),
    path("status/buildinfo", buildinfo, name="prometheus-buildinfo"),
]
