"""POST /api/v1/prom/write: Prometheus remote write 1.0 (snappy + protobuf WriteRequest)."""

from __future__ import annotations

import math
import struct

import cramjam
import pytest
from django.test import Client

from steward.metrics import prompb
from tests.server.conftest import bearer

URL = "/api/v1/prom/write"
T0 = 1764390600000


# --- a tiny protobuf encoder, independent of the decoder under test ---------------------


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3 | 0) + varint(value)


def field_double(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def encode_series(labels: dict[str, str], samples: list[tuple[int, float]], extra=b"") -> bytes:
    body = b"".join(
        field_bytes(1, field_bytes(1, k.encode()) + field_bytes(2, v.encode()))
        for k, v in labels.items()
    )
    body += b"".join(
        field_bytes(2, field_double(1, value) + field_varint(2, ts)) for ts, value in samples
    )
    return body + extra


def encode_request(series: list[bytes], metadata: list[bytes] = ()) -> bytes:
    return b"".join(field_bytes(1, s) for s in series) + b"".join(
        field_bytes(3, m) for m in metadata
    )


def encode_metadata(kind: int, name: str, help_text: str, unit: str) -> bytes:
    return (
        field_varint(1, kind)
        + field_bytes(2, name.encode())
        + field_bytes(4, help_text.encode())
        + field_bytes(5, unit.encode())
    )


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


# --- the decoder --------------------------------------------------------------------------


def test_decoding_round_trips_what_the_encoder_wrote():
    raw = encode_request(
        [
            encode_series(
                {"__name__": "up", "job": "node", "instance": "web-01:9100"},
                [(T0, 1.0), (T0 + 15_000, 0.0)],
            ),
            encode_series(
                {"__name__": "neg", "é": "ü"},
                [(-5, -2.5)],
                extra=field_bytes(3, b"\x0a\x00") + field_bytes(4, b"\x08\x01"),
            ),
        ],
        [encode_metadata(1, "http_requests_total", "Requests.", "")],
    )
    request = prompb.decode_write_request(raw)
    assert request.timeseries[0].labels == [
        ("__name__", "up"),
        ("job", "node"),
        ("instance", "web-01:9100"),
    ]
    assert request.timeseries[0].samples == [(T0, 1.0), (T0 + 15_000, 0.0)]
    assert request.timeseries[1].labels == [("__name__", "neg"), ("é", "ü")]
    assert request.timeseries[1].samples == [(-5, -2.5)]
    assert (request.skipped_exemplars, request.skipped_histograms) == (1, 1)
    assert request.metadata == [prompb.Metadata("counter", "http_requests_total", "Requests.", "")]


def test_unknown_fields_are_skipped():
    raw = (
        field_varint(15, 7)
        + encode_request([encode_series({"__name__": "a"}, [(1, 1.0)]) + field_double(9, 1.0)])
        + varint(13 << 3 | 5)
        + b"\x00\x00\x00\x00"
    )
    assert prompb.decode_write_request(raw).timeseries[0].samples == [(1, 1.0)]


def test_nan_values_such_as_stale_markers_survive():
    stale = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
    request = prompb.decode_write_request(
        encode_request([encode_series({"__name__": "a"}, [(1, stale)])])
    )
    assert math.isnan(request.timeseries[0].samples[0][1])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x0a\x05\x0a", "truncated message"),
        (b"\x0a\x03\x0a\x05a", "timeseries 0: truncated message"),
        (b"\x0a\x04\x0a\x02\x0a\xff", "timeseries 0: truncated varint"),
        (b"\x0b", "unsupported wire type 3"),
        (b"\x0a\x06\x0a\x04\x0a\x02\xff\xfe", "timeseries 0: label name is not valid UTF-8"),
        (b"\x0a" + b"\xff" * 11, "varint too long"),
    ],
)
def test_corrupt_protobuf_is_refused_with_a_reason(raw, message):
    with pytest.raises(prompb.DecodeError, match=message):
        prompb.decode_write_request(raw)


def test_the_snappy_preamble_is_checked_before_decompressing():
    bomb = varint(1 << 40) + b"\x00"
    with pytest.raises(OverflowError):
        prompb.decompress(bomb, 1024)


# --- the endpoint ---------------------------------------------------------------------------


def post(body: bytes, headers: dict, query: str = "", encoding: str = "snappy"):
    return Client().post(
        URL + (f"?{query}" if query else ""),
        data=body,
        content_type="application/x-protobuf",
        HTTP_CONTENT_ENCODING=encoding,
        HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION="0.1.0",
        **headers,
    )


@pytest.mark.django_db
def test_remote_write_is_stored_and_answers_204(world, metrics_store):
    raw = encode_request(
        [
            encode_series(
                {"__name__": "node_load1", "job": "node", "instance": "acme-ws-01:9100"},
                [(T0, 0.25), (T0 + 15_000, 0.5)],
            ),
            encode_series(
                {"__name__": "probe_success", "job": "blackbox", "instance": "https://example.com"},
                [(T0, 1.0)],
            ),
        ],
        [encode_metadata(2, "node_load1", "1m load average.", "")],
    )
    response = post(snappy(raw), bearer(world.technician))
    assert response.status_code == 204, response.content
    [(labels, points)] = metrics_store.find("node_load1")
    assert labels == {
        "__name__": "node_load1",
        "job": "node",
        "instance": "acme-ws-01:9100",
        "steward_device": str(world.acme_device.pk),
        "steward_org": "acme",
    }
    assert points == {T0: 0.25, T0 + 15_000: 0.5}
    [(labels, _)] = metrics_store.find("probe_success")
    assert "steward_device" not in labels  # not a device's host: org-level
    assert metrics_store.meta[world.acme.pk]["node_load1"].help == "1m load average."


@pytest.mark.django_db
def test_replays_are_idempotent(world, metrics_store):
    body = snappy(encode_request([encode_series({"__name__": "a"}, [(T0, 1.0)])]))
    assert post(body, bearer(world.technician)).status_code == 204
    assert post(body, bearer(world.technician)).status_code == 204
    assert metrics_store.sample_count() == 1


@pytest.mark.django_db
def test_corrupt_snappy_is_400(world, metrics_store):
    response = post(b"\x10not snappy at all", bearer(world.technician))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid remote-write body: corrupt snappy data")


@pytest.mark.django_db
def test_corrupt_protobuf_is_400(world, metrics_store):
    response = post(snappy(b"\x0a\x05\x0a"), bearer(world.technician))
    assert response.status_code == 400
    assert response.json()["detail"] == "invalid remote-write body: truncated message"


@pytest.mark.django_db
def test_an_invalid_series_is_skipped_and_named(world, metrics_store):
    raw = encode_request(
        [
            encode_series({"__name__": "ok"}, [(T0, 1.0)]),
            encode_series({"job": "x"}, [(T0, 1.0)]),
            encode_series({"__name__": "a", "bad-label": "x"}, [(T0, 1.0)]),
        ]
    )
    response = post(snappy(raw), bearer(world.technician))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "timeseries 1: no __name__ label"
    assert (body["series_rejected"], body["samples_accepted"]) == (2, 1)


@pytest.mark.django_db
def test_other_encodings_and_remote_write_2_are_415(world):
    body = snappy(encode_request([]))
    assert post(body, bearer(world.technician), encoding="gzip").status_code == 415
    response = Client().post(
        URL,
        data=body,
        content_type="application/x-protobuf;proto=io.prometheus.write.v2.Request",
        HTTP_CONTENT_ENCODING="snappy",
        **bearer(world.technician),
    )
    assert response.status_code == 415


@pytest.mark.django_db
def test_a_decompressed_size_over_the_limit_is_413(world, settings):
    settings.STEWARD = {**settings.STEWARD, "metrics_write_max_body": 10_000}
    body = snappy(encode_request([encode_series({"__name__": "a", "x": "y" * 20_000}, [])]))
    assert len(body) < 10_000
    assert post(body, bearer(world.technician)).status_code == 413


@pytest.mark.django_db
def test_auth_and_tenancy_match_line_protocol(world, metrics_store):
    body = snappy(encode_request([encode_series({"__name__": "a"}, [(T0, 1.0)])]))
    assert post(body, {}).status_code == 401
    assert post(body, bearer(world.viewer)).status_code == 403
    assert post(body, bearer(world.outsider), "org=acme").status_code == 404
    assert metrics_store.sample_count() == 0
