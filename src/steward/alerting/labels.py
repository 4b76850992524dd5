"""Labels, label matchers and fingerprints.

Every alert carries a flat ``dict[str, str]`` of labels (Prometheus' model): the series' own
labels (``device``, ``site``, ``organization``, ``instance``...), the rule's static labels and
three the engine adds (``alertname``, ``severity``, ``alertkind``). Scopes, silences,
maintenance windows, inhibition and grouping are all expressed as matchers on those labels, so
one small, well-tested primitive carries all of them.

Multi-valued facts (tags, device groups) are flattened by the app into one label holding the
values between commas (``tags=",linux,prod,"``); :func:`scope` builds the matching regex.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidMatcher

Labels = Mapping[str, str]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')

#: Labels whose values are comma-delimited sets (see the module docstring).
TAGS_LABEL = "tags"
GROUPS_LABEL = "groups"


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher(Serde):
    """``name op value``; regexes are fully anchored as in Prometheus/Alertmanager.

    A missing label reads as the empty string, so ``team!="db"`` matches alerts without a
    ``team`` label and ``team=""`` selects them.
    """

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidMatcher(f"invalid label name {self.name!r}")
        try:
            op = MatchOp(self.op)
        except ValueError:
            raise InvalidMatcher(f"unknown operator {self.op!r}") from None
        object.__setattr__(self, "op", op)
        if op in (MatchOp.RE, MatchOp.NRE):
            try:
                object.__setattr__(self, "_regex", re.compile(rf"(?:{self.value})\Z"))
            except re.error as exc:
                raise InvalidMatcher(f"invalid regex {self.value!r}: {exc}") from None

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op.value, "value": self.value}

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.match(actual) is not None
        return found if self.op is MatchOp.RE else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op.value}"{escaped}"'

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name="value"``, ``name!="v"``, ``name=~"re"`` or ``name!~"re"``."""
        m = _MATCHER.match(text)
        if not m:
            raise InvalidMatcher(f"cannot parse matcher {text!r}")
        value = re.sub(r"\\(.)", r"\1", m.group(3))
        return cls(m.group(1), MatchOp(m.group(2)), value)


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def scope(
    *,
    organization: str | None = None,
    site: str | None = None,
    device: str | None = None,
    tag: str | None = None,
    group: str | None = None,
) -> tuple[Matcher, ...]:
    """Matchers for the usual scopes, on the label names the app is expected to set."""
    out: list[Matcher] = []
    for name, value in (("organization", organization), ("site", site), ("device", device)):
        if value is not None:
            out.append(Matcher(name, MatchOp.EQ, value))
    if tag is not None:
        out.append(Matcher(TAGS_LABEL, MatchOp.RE, f".*,{re.escape(tag)},.*"))
    if group is not None:
        out.append(Matcher(GROUPS_LABEL, MatchOp.RE, f".*,{re.escape(group)},.*"))
    return tuple(out)


def canonical(labels: Labels) -> str:
    """A stable text form of a label set (sorted keys, JSON-escaped values)."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def fingerprint(rule_id: str, labels: Labels) -> str:
    """Identity of one problem: the rule and the alert's labels, order-independent.

    SHA-256 rather than Python's ``hash`` because it must be identical across processes and
    releases (it is stored, and several workers compute it).
    """
    digest = hashlib.sha256(f"{rule_id}\x00{canonical(labels)}".encode())
    return digest.hexdigest()[:16]


def series_key(name: str, labels: Labels) -> str:
    """Identity of one input series (a metric, a check or a device) with its labels."""
    return f"{name}{canonical(labels)}"
