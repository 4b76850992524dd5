"""One class per check type, described by metadata, and the runner that never raises.

The metadata (parameters with types, defaults and limits; which side may run the check)
is the single table from which validation, the API's documentation and the console's forms
derive, in the spirit of Glances' per-plugin ``fields_description``.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from steward.checks.base import CheckFailed, CheckResult, CheckSpec, SpecError, unknown

#: Extra wall-clock seconds the runner grants beyond ``spec.timeout`` before it gives up on
#: a check: implementations enforce the timeout themselves (socket, subprocess, HTTP
#: timeouts); this backstop only catches one that forgot to.
TIMEOUT_GRACE_S = 1.0


class Side(enum.Enum):
    """Where a check type may run: on the managed device, on the server, or either."""

    AGENT = "agent"
    SERVER = "server"
    BOTH = "both"

    def allows(self, side: Side) -> bool:
        return self is Side.BOTH or self is side


class Kind(enum.Enum):
    """Parameter value types, as JSON carries them."""

    STR = "string"
    INT = "integer"
    FLOAT = "number"
    BOOL = "boolean"
    REGEX = "regex"
    STR_LIST = "list of strings"
    INT_LIST = "list of integers"
    STR_MAP = "object of strings"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a check type. ``default`` applies when the key is absent;
    ``minimum``/``maximum`` bound numbers (and list lengths are not bounded)."""

    name: str
    kind: Kind
    help: str
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def clean(self, value: Any) -> Any:
        """Return the validated value or raise ``SpecError`` naming ``params.<name>``."""
        where = f"params.{self.name}"
        cleaned = _coerce(self.kind, value, where)
        if self.choices and cleaned not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise SpecError(where, f"must be one of: {options}")
        numbers = cleaned if isinstance(cleaned, list) else [cleaned]
        if self.kind in (Kind.INT, Kind.FLOAT, Kind.INT_LIST):
            for number in numbers:
                if self.minimum is not None and number < self.minimum:
                    raise SpecError(where, f"must be at least {self.minimum:g}")
                if self.maximum is not None and number > self.maximum:
                    raise SpecError(where, f"must be at most {self.maximum:g}")
        return cleaned


def _coerce(kind: Kind, value: Any, where: str) -> Any:
    def is_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    if kind in (Kind.STR, Kind.REGEX):
        if not isinstance(value, str):
            raise SpecError(where, "must be a string")
        if kind is Kind.REGEX:
            try:
                re.compile(value)
            except re.error as exc:
                raise SpecError(where, f"is not a valid regular expression: {exc}") from None
        return value
    if kind is Kind.INT:
        if not is_int(value):
            raise SpecError(where, "must be an integer")
        return value
    if kind is Kind.FLOAT:
        if not (is_int(value) or isinstance(value, float)):
            raise SpecError(where, "must be a number")
        return float(value)
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise SpecError(where, "must be true or false")
        return value
    if kind is Kind.STR_LIST:
        if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
            raise SpecError(where, "must be a list of strings")
        return list(value)
    if kind is Kind.INT_LIST:
        if not isinstance(value, list | tuple) or not all(is_int(x) for x in value):
            raise SpecError(where, "must be a list of integers")
        return list(value)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SpecError(where, "must be an object whose values are strings")
    return dict(value)


@dataclass(slots=True)
class Context:
    """What an implementation gets for one run: the spec, its cleaned params, the state the
    previous run handed back (stateful checks only) and a monotonic deadline."""

    spec: CheckSpec
    params: dict[str, Any]
    state: dict[str, Any] | None = None
    deadline: float = field(default_factory=time.monotonic)

    def remaining(self, floor: float = 0.05) -> float:
        """Seconds left before the deadline, never below ``floor`` so that a socket
        timeout of zero (which means non-blocking, not "expired") is never passed on."""
        return max(floor, self.deadline - time.monotonic())


class Check(ABC):
    """Base class of a check type. Subclasses declare metadata and implement ``execute``,
    which may raise: ``run`` turns any exception into an ``unknown`` result."""

    name: ClassVar[str]
    summary: ClassVar[str]
    side: ClassVar[Side]
    target_help: ClassVar[str]
    target_required: ClassVar[bool] = True
    params: ClassVar[tuple[Param, ...]] = ()

    def clean(self, spec: CheckSpec) -> dict[str, Any]:
        """Validate ``spec.target`` and ``spec.params`` against the table, fill defaults,
        then run the type's cross-field rules (``check_params``)."""
        if self.target_required and not spec.target.strip():
            raise SpecError("target", f"is required ({self.target_help})")
        known = {p.name: p for p in self.params}
        extra = sorted(set(spec.params) - set(known))
        if extra:
            raise SpecError(f"params.{extra[0]}", f"unknown parameter for {self.name} checks")
        values: dict[str, Any] = {}
        for param in self.params:
            if spec.params.get(param.name) is not None:
                values[param.name] = param.clean(spec.params[param.name])
            elif param.required:
                raise SpecError(f"params.{param.name}", "is required")
            else:
                values[param.name] = param.default
        self.check_params(values, spec)
        return values

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:  # noqa: B027
        """Cross-field validation hook (e.g. warning below critical); raise ``SpecError``."""

    @abstractmethod
    def execute(self, ctx: Context) -> CheckResult:
        """Probe the target once and return a verdict; may raise."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The type's metadata as JSON-shaped data (for API docs and forms)."""
        return {
            "name": cls.name,
            "summary": cls.summary,
            "side": cls.side.value,
            "target": cls.target_help,
            "params": [
                {
                    "name": p.name,
                    "type": p.kind.value,
                    "help": p.help,
                    "default": p.default,
                    "required": p.required,
                    "choices": list(p.choices),
                    "minimum": p.minimum,
                    "maximum": p.maximum,
                }
                for p in cls.params
            ],
        }


REGISTRY: dict[str, type[Check]] = {}
C = TypeVar("C", bound=type[Check])


def register(cls: C) -> C:
    """Class decorator adding a check type to the registry under ``cls.name``."""
    if cls.name in REGISTRY:
        raise RuntimeError(f"check type {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get(type_name: str) -> type[Check]:
    """The class for a type name; ``SpecError`` on ``type`` when there is none."""
    try:
        return REGISTRY[type_name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise SpecError("type", f"unknown check type {type_name!r} (known: {known})") from None


def types(side: Side | None = None) -> list[str]:
    """Registered type names, optionally only those a given side may run."""
    return sorted(n for n, c in REGISTRY.items() if side is None or c.side.allows(side))


def validate(spec: CheckSpec, side: Side | None = None) -> dict[str, Any]:
    """Validate a spec completely; return the cleaned params. Raises ``SpecError``."""
    cls = get(spec.type)
    if side is not None and not cls.side.allows(side):
        raise SpecError("type", f"{spec.type} checks run on the {cls.side.value} only")
    return cls().clean(spec)


def run(
    spec: CheckSpec,
    state: dict[str, Any] | None = None,
    *,
    side: Side | None = None,
) -> CheckResult:
    """Run one check and return its result. Never raises: an invalid spec, a crash inside
    the implementation or an overrun of ``spec.timeout`` all become ``unknown`` results.

    The implementation runs in a daemon thread so that a stuck probe (a DNS library call
    that ignores its timeout, say) cannot hold the caller past ``timeout`` + 1 s; the
    abandoned thread finishes or dies with the process, it never blocks exit.
    """
    try:
        params = validate(spec, side)
        check = get(spec.type)()
    except SpecError as exc:
        return unknown(f"invalid check: {exc}")
    ctx = Context(spec=spec, params=params, state=state)
    ctx.deadline = time.monotonic() + spec.timeout
    outcome: list[CheckResult] = []

    def target() -> None:
        outcome.append(_guarded(check.execute, ctx, spec.type))

    worker = threading.Thread(target=target, name=f"check-{spec.type}", daemon=True)
    worker.start()
    worker.join(spec.timeout + TIMEOUT_GRACE_S)
    if not outcome:
        return unknown(f"{spec.type} check did not finish within its {spec.timeout:g} s timeout")
    return outcome[0]


def _guarded(func: Callable[[Context], CheckResult], ctx: Context, name: str) -> CheckResult:
    try:
        return func(ctx)
    except CheckFailed as exc:
        return unknown(str(exc))
    except Exception as exc:  # the contract is "never raises": report, do not propagate
        return unknown(f"{name} check failed: {type(exc).__name__}: {exc}")
