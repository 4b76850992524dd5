"""Per-check state of stateful checks (the ``log`` check's offset), kept across restarts.

Without it a restarted agent would either re-read a log from its start and page again for
lines already reported, or skip what was written while it was down. The file
``<state_dir>/check-state.json`` maps check ids to ``{"type", "target", "state"}``; a
state is handed back only to a check of the same type and target, so re-pointing a check
at another file never continues at the old file's offset.

Writes are atomic (temporary file, then ``os.replace``) so a crash leaves the old or the
new file. They are fsync'd only on ``flush`` (at shutdown): a log check may run every
second, and losing the last offset in a power cut costs one re-read of a few lines, while
an fsync per run costs every disk it runs on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.checks import CheckSpec

logger = logging.getLogger(__name__)

STATE_FILE = "check-state.json"
FORMAT_VERSION = 1


class CheckStateStore:
    """Thread-safe: workers store states concurrently. ``path=None`` keeps them in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        if path is not None:
            self._entries = _load(path)

    def get(self, check_id: int, spec: CheckSpec) -> dict[str, Any] | None:
        """The state the check's previous run handed back, or ``None``."""
        with self._lock:
            entry = self._entries.get(str(check_id))
        if entry is None or (entry.get("type"), entry.get("target")) != (spec.type, spec.target):
            return None
        state = entry.get("state")
        return state if isinstance(state, dict) else None

    def put(self, check_id: int, spec: CheckSpec, state: dict[str, Any] | None) -> None:
        """Remember a run's state; ``None`` (a run that timed out) keeps the old one."""
        if state is None:
            return
        entry = {"type": spec.type, "target": spec.target, "state": state}
        with self._lock:
            if self._entries.get(str(check_id)) == entry:
                return
            self._entries[str(check_id)] = entry
            self._write(fsync=False)

    def retain(self, check_ids: set[int]) -> None:
        """Forget the states of checks no longer assigned."""
        keep = {str(check_id) for check_id in check_ids}
        with self._lock:
            gone = set(self._entries) - keep
            if not gone:
                return
            for key in gone:
                del self._entries[key]
            self._write(fsync=False)

    def flush(self) -> None:
        """Make the last write durable (called at shutdown)."""
        with self._lock:
            if self._dirty:
                self._write(fsync=True)

    def _write(self, *, fsync: bool) -> None:
        if self.path is None:
            return
        data = json.dumps({"version": FORMAT_VERSION, "checks": self._entries})
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(data)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            # The checks go on; only a restart would re-read some lines.
            logger.error("cannot save check state to %s: %s", self.path, error)
            return
        self._dirty = not fsync


def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        logger.error("cannot read check state %s (%s); starting afresh", path, error)
        return {}
    try:
        data = json.loads(raw)
        entries = data["checks"]
        if data.get("version") != FORMAT_VERSION or not isinstance(entries, dict):
            raise ValueError("unknown format")
    except (ValueError, KeyError, TypeError) as error:
        # Log checks then start at the end of their files: nothing old is re-reported.
        logger.error("check state %s is unreadable (%s); starting afresh", path, error)
        return {}
    return {str(k): v for k, v in entries.items() if isinstance(v, dict)}
