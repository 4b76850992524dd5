"""Generic ``to_dict``/``from_dict`` for the core's dataclasses.

Every state and config object of the core must round-trip through JSON so the Django app can
store it in a ``JSONField`` and several workers can hand it to each other. Writing each
``to_dict`` by hand invites drift between the two directions; this module derives both from the
type hints instead (dataclasses, enums, tuples, lists, ``dict[str, X]``, ``X | None``).
Polymorphic fields (conditions) provide their own ``from_dict`` that dispatches on ``kind``.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Self, get_args, get_origin, get_type_hints

from steward.alerting.errors import StateError

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def dump(value: Any) -> Any:
    """Turn a value made of dataclasses, enums and containers into JSON-ready data."""
    if isinstance(value, enum.Enum):  # before str: StrEnum members are str too
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    raise StateError(f"cannot serialise {type(value).__name__}")


def load(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from what :func:`dump` produced."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return load(args[0], data)
        if all(a in (int, float, str, bool) for a in args):
            return data
        raise StateError(f"ambiguous union {tp!r}")
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(load(args[0], x) for x in data)
        return tuple(load(a, x) for a, x in zip(args, data, strict=True))
    if origin is list:
        (arg,) = get_args(tp)
        return [load(arg, x) for x in data]
    if origin is dict:
        _, vt = get_args(tp)
        return {k: load(vt, v) for k, v in data.items()}
    if tp is Any or data is None:
        return data
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp(data)
        if hasattr(tp, "from_dict"):
            return tp.from_dict(data)
        if tp is float:
            return float(data)
    return data


class Serde:
    """Mixin giving a dataclass ``to_dict``/``from_dict`` derived from its type hints."""

    def to_dict(self) -> dict[str, Any]:
        # Fields with init=False are derived (a compiled regex, parsed matchers): rebuilt by
        # __post_init__, never stored.
        return {
            f.name: dump(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.init
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise StateError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        hints = _hints(cls)
        kwargs = {
            f.name: load(hints[f.name], data[f.name])
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.init and f.name in data
        }
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise StateError(f"{cls.__name__}: {exc}") from exc
