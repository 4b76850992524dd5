"""Label sets: canonical form, stable hash, limit checks and compiled matchers.

A series is its complete label set. Its identity in the registry is
``(org_id, hash(canonical form))`` where the canonical form is the JSON array of
``[name, value]`` pairs sorted by name, with empty values dropped (Prometheus treats a
label with an empty value as absent, so ``{a=""}`` and ``{}`` are the same series). The
hash is the first 16 bytes of SHA-256 of that text: stable across processes, Python
versions and machines (Python's ``hash()`` is salted per process, so it cannot be used).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steward.tsdb.types import (
    DEVICE_LABEL,
    LABEL_NAME_RE,
    METRIC_NAME,
    METRIC_NAME_RE,
    Labels,
    Limits,
    Matcher,
    MatchOp,
)


@dataclass(frozen=True)
class SeriesKey:
    """What the registry needs to know about a label set."""

    text: str  # canonical JSON
    digest: bytes  # 16 bytes
    metric: str
    device: str  # the steward_device label, "" when absent


def canonical(labels: Labels) -> SeriesKey:
    """The registry key of a label set (see the module docstring)."""
    pairs = sorted((k, v) for k, v in labels.items() if v != "")
    text = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()[:16]
    return SeriesKey(
        text=text,
        digest=digest,
        metric=labels.get(METRIC_NAME, ""),
        device=labels.get(DEVICE_LABEL, ""),
    )


def parse(text: str) -> dict[str, str]:
    """Labels from their canonical text; strings interned since fleets repeat them a lot."""
    return {sys.intern(k): sys.intern(v) for k, v in json.loads(text)}


def check(labels: Labels, limits: Limits) -> str | None:
    """Why this label set may not be stored, or None when it may."""
    name = labels.get(METRIC_NAME, "")
    if not name:
        return "series without a metric name (__name__)"
    if not METRIC_NAME_RE.match(name):
        return f"invalid metric name {name[:100]!r}"
    if len(labels) > limits.max_labels_per_series:
        return (
            f"{name}: {len(labels)} labels, more than the limit of {limits.max_labels_per_series}"
        )
    for key, value in labels.items():
        if key != METRIC_NAME and not LABEL_NAME_RE.match(key):
            return f"{name}: invalid label name {key[:100]!r}"
        if len(key) > limits.max_label_name_len:
            return (
                f"{name}: label name {key[:40]!r}... is {len(key)} characters long, "
                f"more than the limit of {limits.max_label_name_len}"
            )
        if len(value) > limits.max_label_value_len:
            return (
                f"{name}: value of label {key!r} is {len(value)} characters long, more "
                f"than the limit of {limits.max_label_value_len}"
            )
    return None


def compile_matchers(matchers: Sequence[Matcher]) -> Callable[[Labels], bool]:
    """One predicate for all matchers, regexes compiled once (fully anchored, as PromQL)."""
    tests: list[Callable[[Labels], bool]] = []
    for m in matchers:
        name, value = m.name, m.value
        if m.op is MatchOp.EQ:
            tests.append(lambda labels, n=name, v=value: labels.get(n, "") == v)
        elif m.op is MatchOp.NE:
            tests.append(lambda labels, n=name, v=value: labels.get(n, "") != v)
        else:
            # fullmatch without flags: the very semantics of Matcher.matches.
            pattern = re.compile(value)
            want = m.op is MatchOp.RE
            tests.append(
                lambda labels, n=name, p=pattern, w=want: (
                    (p.fullmatch(labels.get(n, "")) is not None) is w
                )
            )
    return lambda labels: all(t(labels) for t in tests)
