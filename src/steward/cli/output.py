"""Output for people (aligned tables) and for scripts (JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def print_json(data: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    json.dump(data, stream, indent=2, default=str)
    stream.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], stream: TextIO | None = None
) -> None:
    """``columns`` is (key, heading) pairs; widths fit the content."""
    stream = stream or sys.stdout
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headings = [heading for _, heading in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headings)]
    line = "  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True))
    stream.write(line.rstrip() + "\n")
    for row in cells:
        stream.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )


def print_fields(pairs: Sequence[tuple[str, Any]], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        stream.write(f"{label.ljust(width)}  {_cell(value)}\n")
