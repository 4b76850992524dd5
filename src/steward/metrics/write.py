"""Push endpoints for other collectors: InfluxDB line protocol and Prometheus remote write.

``POST /api/v1/write`` (InfluxDB 1.x: ``db``, ``rp``, ``precision``) and
``POST /api/v1/api/v2/write`` (InfluxDB 2.x: ``org``, ``bucket``, ``precision``): both
paths exist so that Telegraf's ``outputs.influxdb`` and ``outputs.influxdb_v2`` work with
``urls = ["https://steward.example.com/api/v1"]`` (Telegraf appends ``write`` and
``/api/v2/write`` to the URL's path). ``db``, ``rp`` and ``bucket`` are accepted and
ignored: the organization is the token's, or ``org``.

``POST /api/v1/prom/write``: Prometheus remote write 1.0.

Bad input policy (docs/metrics-ingest.md): *partial*. Good lines (series) are stored;
malformed ones are refused with 400 naming the first one, with counts. Samples refused by
a store limit get 422 naming the organization and the limit.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from steward.api.errors import ApiError
from steward.metrics import bodies, ingest, lineproto, prompb
from steward.metrics.auth import (
    IngestAuth,
    IngestCredential,
    target_organization,
    token_principal,
)

router = Router(tags=["metrics ingest"], auth=IngestAuth())

REMOTE_WRITE_V2 = "io.prometheus.write.v2.request"


def _json_error(status: int, code: str, detail: str, **extra: int) -> HttpResponse:
    return JsonResponse({"detail": detail, "code": code, **extra}, status=status)


def _no_content() -> HttpResponse:
    return HttpResponse(status=204)


def _line_protocol(request: HttpRequest, secret: str, org_ref: str, precision: str) -> HttpResponse:
    """The whole request, on an ingest thread (``ingest.in_ingest_thread``)."""
    principal = token_principal(request, secret)
    org = target_organization(principal, org_ref)
    if precision not in lineproto.PRECISIONS:
        raise ApiError(
            400, "invalid_request", f"unknown precision {precision!r}: use ns, us, ms or s"
        )
    limit = ingest.option("metrics_write_max_body")
    raw = bodies.decoded_body(request, raw_limit=limit, limit=limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_request", f"the body is not UTF-8: {exc}") from None
    max_lines = ingest.option("metrics_write_max_lines")
    # Lines, not line ends: a body of exactly ``max_lines`` lines each ending in "\n"
    # (how Telegraf sends them) is within the limit.
    if text.count("\n") + (not text.endswith("\n")) > max_lines:
        raise bodies.too_large(f"request of more than {max_lines} lines", max_lines)
    outcome = ingest.ingest_lines(org, text, precision)
    if outcome.first_error is not None:
        return _json_error(400, "invalid_line", outcome.first_error, **outcome.counts())
    if outcome.result.rejected:
        error = ingest.limit_error(outcome.result, f"organization '{org.slug}'")
        return _json_error(error.status, error.code, error.detail, **outcome.counts())
    return _no_content()


@router.post("/write", auth=IngestCredential(), response={204: None})
async def influx_write(
    request: HttpRequest,
    db: str = "",
    rp: str = "",
    precision: str = "ns",
    org: str = "",
):
    """InfluxDB 1.x write (``db``/``rp`` ignored; ``org``: organization slug or id)."""
    return await ingest.in_ingest_thread(
        _line_protocol,
        request,
        request.auth,  # type: ignore[attr-defined]
        org,
        precision or "ns",
    )


@router.post("/api/v2/write", auth=IngestCredential(), response={204: None})
async def influx_v2_write(
    request: HttpRequest,
    org: str = "",
    bucket: str = "",
    precision: str = "ns",
    orgID: str = "",
):
    """InfluxDB 2.x write (``bucket`` ignored; ``org``/``orgID``: organization slug or id)."""
    return await ingest.in_ingest_thread(
        _line_protocol,
        request,
        request.auth,  # type: ignore[attr-defined]
        org or orgID,
        precision or "ns",
    )


def _remote_write(request: HttpRequest, secret: str, org_ref: str) -> HttpResponse:
    """The whole request, on an ingest thread, as ``_line_protocol`` (ADR 0003): as a
    sync view it opened and closed a database connection on every request."""
    principal = token_principal(request, secret)
    organization = target_organization(principal, org_ref)
    content_type = request.headers.get("Content-Type", "").lower().replace(" ", "")
    if REMOTE_WRITE_V2 in content_type:
        raise ApiError(
            415,
            "unsupported_media_type",
            "remote write 2.0 is not supported: use protobuf_message "
            "prometheus.WriteRequest (remote write 1.0)",
        )
    limit = ingest.option("metrics_write_max_body")
    raw = bodies.read_body(request, limit)
    encoding = request.headers.get("Content-Encoding", "snappy").strip().lower()
    if encoding != "snappy":
        raise ApiError(
            415,
            "unsupported_encoding",
            f"remote write needs Content-Encoding: snappy, not {encoding!r}",
        )
    with ingest.paused_gc():
        try:
            message = prompb.decompress(raw, limit)
            write_request = prompb.decode_write_request(message)
        except OverflowError:
            raise bodies.too_large("decompressed body", limit) from None
        except prompb.DecodeError as exc:
            raise ApiError(400, "invalid_request", f"invalid remote-write body: {exc}") from None
        outcome = ingest.ingest_remote_write(organization, write_request)
    counts = {
        "series_rejected": outcome.series_rejected,
        "samples_accepted": outcome.result.accepted,
        "samples_duplicate": outcome.result.duplicates,
        "samples_rejected": outcome.result.rejected,
    }
    if outcome.first_error is not None:
        return _json_error(400, "invalid_series", outcome.first_error, **counts)
    if outcome.result.rejected:
        error = ingest.limit_error(outcome.result, f"organization '{organization.slug}'")
        return _json_error(error.status, error.code, error.detail, **counts)
    return _no_content()


@router.post("/prom/write", auth=IngestCredential(), response={204: None})
async def prometheus_remote_write(request: HttpRequest, org: str = ""):
    """Prometheus remote write 1.0: snappy-compressed protobuf ``WriteRequest``."""
    return await ingest.in_ingest_thread(
        _remote_write,
        request,
        request.auth,  # type: ignore[attr-defined]
        org,
    )
