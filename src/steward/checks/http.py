"""``http``: an HTTP(S) request with expectations on status, latency and body."""

from __future__ import annotations

import re
import ssl
import time
from typing import TYPE_CHECKING, Any

from steward.checks.base import CheckResult, CheckSpec, Metric, SpecError, Status

if TYPE_CHECKING:
    import httpx
from steward.checks.common import latency_metric, latency_params, require_order
from steward.checks.registry import Check, Context, Kind, Param, Side, register

#: Only the start of a body is searched: a health page is small, and a check must not
#: download a multi-gigabyte file by mistake.
MAX_BODY_BYTES = 1024 * 1024


@register
class HttpCheck(Check):
    name = "http"
    summary = "HTTP(S) request: expected status, latency thresholds, body content"
    side = Side.BOTH
    target_help = "absolute http:// or https:// URL"
    params = (
        Param("method", Kind.STR, "request method", default="GET", choices=("GET", "HEAD", "POST")),
        Param("body", Kind.STR, "request body for POST (sent as UTF-8)"),
        Param(
            "expected_status",
            Kind.INT_LIST,
            "acceptable status codes; empty means any 2xx or 3xx",
            default=[],
            minimum=100,
            maximum=599,
        ),
        *latency_params("time to the response headers"),
        Param("contains", Kind.STR, "text the body must contain"),
        Param("regex", Kind.REGEX, "regular expression the body must match (re.search)"),
        Param("follow_redirects", Kind.BOOL, "follow 3xx redirects", default=False),
        Param("verify_tls", Kind.BOOL, "verify the server certificate", default=True),
        Param("ca_file", Kind.STR, "PEM CA bundle to trust instead of the system store"),
        Param("headers", Kind.STR_MAP, "extra request headers", default={}),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        if not re.match(r"^https?://[^/\s]+", spec.target):
            raise SpecError("target", "must be an absolute http:// or https:// URL")
        if values["body"] is not None and values["method"] != "POST":
            raise SpecError("params.body", "is only sent with method POST")
        require_order(values, "warn_ms", "crit_ms", rising=True)

    def execute(self, ctx: Context) -> CheckResult:
        import httpx  # here, not at the top: the agent loads it only if it runs http checks

        p = ctx.params
        verify: ssl.SSLContext | bool = p["verify_tls"]
        if p["verify_tls"] and p["ca_file"]:
            verify = ssl.create_default_context(cafile=p["ca_file"])
        url = ctx.spec.target
        started = time.monotonic()
        try:
            with (
                httpx.Client(
                    follow_redirects=p["follow_redirects"],
                    verify=verify,
                    timeout=httpx.Timeout(ctx.remaining()),
                    headers=p["headers"],
                ) as client,
                client.stream(p["method"], url, content=p["body"]) as response,
            ):
                latency = (time.monotonic() - started) * 1000
                body = _read_capped(response, ctx)
        except httpx.TimeoutException:
            return CheckResult(Status.CRITICAL, f"{url}: no response within the timeout")
        except httpx.HTTPError as exc:
            return CheckResult(Status.CRITICAL, f"{url}: {type(exc).__name__}: {exc}")

        time_metric, status = latency_metric("time", latency, p)
        perfdata = (
            time_metric,
            Metric("size", len(body), "B", min=0),
            Metric("status_code", response.status_code),
        )
        head = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        summary = f"{head} in {latency:.0f} ms, {len(body)} bytes"

        def result(status: Status, message: str) -> CheckResult:
            return CheckResult(status, message, latency_ms=latency, perfdata=perfdata)

        expected = p["expected_status"]
        if expected and response.status_code not in expected:
            wanted = ", ".join(str(code) for code in expected)
            return result(Status.CRITICAL, f"{summary}; expected status {wanted}")
        if not expected and not 200 <= response.status_code < 400:
            return result(Status.CRITICAL, f"{summary}; expected a 2xx or 3xx status")
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if p["contains"] is not None and p["contains"] not in text:
            return result(Status.CRITICAL, f"{summary}; body lacks {p['contains']!r}")
        if p["regex"] is not None and not re.search(p["regex"], text):
            return result(Status.CRITICAL, f"{summary}; body does not match /{p['regex']}/")
        return result(status, summary)


def _read_capped(response: httpx.Response, ctx: Context) -> bytes:
    """The body's first ``MAX_BODY_BYTES``, reading no longer than the deadline allows."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES or time.monotonic() > ctx.deadline:
            break
    return b"".join(chunks)[:MAX_BODY_BYTES]
