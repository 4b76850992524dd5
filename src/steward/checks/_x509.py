"""Just enough DER decoding to read a certificate's validity, names and subjectAltName.

The standard library only decodes a peer certificate after a *successful* verification
(``SSLSocket.getpeercert()`` returns ``{}`` otherwise), yet a monitoring check must report
the expiry date of a self-signed or already-expired certificate too, and ``cryptography``
is not a dependency of this package. X.509 layout: RFC 5280 section 4.1.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

_NAME_OIDS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_SUBJECT_ALT_NAME = "2.5.29.17"


class CertificateParseError(ValueError):
    """The bytes are not a DER certificate this decoder understands."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """The parts of a certificate a check reports on. Times are UTC-aware."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise CertificateParseError("truncated element")
    tag, length = data[pos], data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise CertificateParseError("element runs past the end")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, s, e = _tlv(data, pos)
        out.append((tag, s, e))
        pos = e
    return out


def _oid(raw: bytes) -> str:
    first = raw[0]
    parts = [str(min(first // 40, 2)), str(first - 40 * min(first // 40, 2))]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(str(value))
            value = 0
    return ".".join(parts)


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit year, 50..99 means 19xx (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _name(data: bytes, start: int, end: int) -> str:
    parts = []
    for _, set_s, set_e in _children(data, start, end):
        for _, atv_s, atv_e in _children(data, set_s, set_e):
            (_, oid_s, oid_e), (_, val_s, val_e) = _children(data, atv_s, atv_e)[:2]
            key = _oid(data[oid_s:oid_e])
            value = data[val_s:val_e].decode("utf-8", errors="replace")
            parts.append(f"{_NAME_OIDS.get(key, key)}={value}")
    return ", ".join(parts)


def parse_certificate(der: bytes) -> Certificate:
    """Decode the fields of ``Certificate`` from DER bytes."""
    try:
        _, cert_s, cert_e = _tlv(der, 0)
        _, tbs_s, tbs_e = _children(der, cert_s, cert_e)[0]
        fields = _children(der, tbs_s, tbs_e)
        if fields[0][0] == 0xA0:  # explicit [0] version
            fields = fields[1:]
        issuer, validity, subject = fields[2], fields[3], fields[4]
        times = _children(der, validity[1], validity[2])
        not_before = _time(times[0][0], der[times[0][1] : times[0][2]])
        not_after = _time(times[1][0], der[times[1][1] : times[1][2]])
        dns_names: list[str] = []
        ips: list[str] = []
        for tag, s, e in fields[6:]:
            if tag != 0xA3:  # [3] extensions
                continue
            (_, seq_s, seq_e) = _children(der, s, e)[0]
            for _, ext_s, ext_e in _children(der, seq_s, seq_e):
                parts = _children(der, ext_s, ext_e)
                if _oid(der[parts[0][1] : parts[0][2]]) != _SUBJECT_ALT_NAME:
                    continue
                _, oct_s, _ = parts[-1]
                _, names_s, names_e = _tlv(der, oct_s)
                for name_tag, n_s, n_e in _children(der, names_s, names_e):
                    if name_tag == 0x82:  # dNSName
                        dns_names.append(der[n_s:n_e].decode("ascii", errors="replace"))
                    elif name_tag == 0x87:  # iPAddress
                        ips.append(str(ipaddress.ip_address(der[n_s:n_e])))
    except (IndexError, ValueError) as exc:
        raise CertificateParseError(f"cannot decode certificate: {exc}") from exc
    return Certificate(
        subject=_name(der, subject[1], subject[2]),
        issuer=_name(der, issuer[1], issuer[2]),
        not_before=not_before,
        not_after=not_after,
        dns_names=tuple(dns_names),
        ip_addresses=tuple(ips),
    )


def matches_hostname(cert: Certificate, host: str) -> bool:
    """RFC 6125 section 6.4: IP literals against iPAddress entries, names against dNSName
    entries, case-insensitively, a wildcard only as the whole left-most label and covering
    exactly one label. No fallback to the subject CN (RFC 6125 6.4.4; browsers and
    Python's ``ssl`` dropped it too)."""
    try:
        wanted_ip = ipaddress.ip_address(host)
    except ValueError:
        wanted_ip = None
    if wanted_ip is not None:
        return any(ipaddress.ip_address(ip) == wanted_ip for ip in cert.ip_addresses)
    labels = host.rstrip(".").lower().split(".")
    for pattern in cert.dns_names:
        plabels = pattern.rstrip(".").lower().split(".")
        if len(plabels) != len(labels):
            continue
        if plabels[0] == "*" and len(plabels) > 2 and plabels[1:] == labels[1:]:
            return True
        if plabels == labels:
            return True
    return False
