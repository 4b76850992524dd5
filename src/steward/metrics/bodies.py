"""Reading ingest request bodies: size caps before and after decompression.

Django's ``request.body`` refuses bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MiB,
sized for the agent API); line protocol and remote write need more, so ingest views read
the stream themselves with their own cap. A decompression bomb is stopped by asking zlib
for at most ``cap + 1`` bytes, never by inflating first and measuring after.
"""

from __future__ import annotations

import zlib

from django.http import HttpRequest

from steward.api.errors import ApiError


def too_large(what: str, limit: int) -> ApiError:
    return ApiError(413, "too_large", f"{what} exceeds the {limit}-byte limit")


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw (possibly compressed) body, at most ``limit`` bytes, else 413."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "invalid_request", "invalid Content-Length header") from None
    if length > limit:
        raise too_large(f"request body of {length} bytes", limit)
    # After an earlier ``request.body`` Django re-reads from an in-memory copy: still whole.
    data = request.read(limit + 1)
    if len(data) > limit:
        raise too_large("request body", limit)
    return data


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip (several members allowed, as RFC 1952 permits) up to ``limit`` bytes."""
    out: list[bytes] = []
    total = 0
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(rest, limit + 1 - total)
        except zlib.error as exc:
            raise ApiError(400, "invalid_encoding", f"corrupt gzip body: {exc}") from None
        total += len(chunk)
        out.append(chunk)
        if total > limit or inflater.unconsumed_tail:
            raise too_large("decompressed body", limit)
        if not inflater.eof:
            raise ApiError(400, "invalid_encoding", "corrupt gzip body: truncated")
        rest = inflater.unused_data
    return b"".join(out)


def decoded_body(request: HttpRequest, raw_limit: int, limit: int) -> bytes:
    """Read the body and undo ``Content-Encoding: gzip`` (identity otherwise), capped."""
    data = read_body(request, raw_limit)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        return gunzip(data, limit)
    if encoding not in ("", "identity"):
        raise ApiError(415, "unsupported_encoding", f"unsupported Content-Encoding {encoding!r}")
    if len(data) > limit:
        raise too_large("request body", limit)
    return data
