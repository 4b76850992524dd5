"""The agent's enrollment, persisted in ``<state_dir>/agent.json`` (mode 0600).

The credential in that file is the device's only proof of identity and the server shows
it once, so the file is written atomically (a crash leaves the old or the new file, never
half of one), flushed to disk before it replaces the old one, and never readable by
other users at any moment (created 0600, not chmod-ed afterwards).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

STATE_FILE = "agent.json"
STATE_DIR_ENV = "STEWARD_AGENT_STATE_DIR"
SYSTEM_STATE_DIR = Path("/var/lib/steward-agent")


class StateError(Exception):
    """The state file exists but cannot be read or makes no sense; re-enroll to fix it."""


@dataclass(frozen=True, slots=True)
class AgentState:
    """What the agent needs to report: where, as which device, with which credential."""

    server_url: str
    device_id: int
    # repr=False: a state object that ends up in a log line or a traceback must not
    # carry the credential with it.
    credential: str = field(repr=False)
    ca_file: str | None = None


def default_state_dir() -> Path:
    """``$STEWARD_AGENT_STATE_DIR``, else the system directory for a root service, else
    the user's state directory (an agent tried out without root)."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return SYSTEM_STATE_DIR
    return Path(platformdirs.user_state_dir("steward-agent"))


def ensure_state_dir(state_dir: Path) -> None:
    """Create the directory 0700 if missing and check it is writable.

    An existing directory keeps its mode: ``--state-dir`` may point somewhere the admin
    chose, and tightening it behind their back could break other users of it. Checking
    writability first lets enrollment fail before the server spends a token.
    """
    if not state_dir.exists():
        try:
            state_dir.mkdir(mode=0o700, parents=True)
            os.chmod(state_dir, 0o700)  # mkdir's mode is filtered by the umask
        except OSError as error:
            raise StateError(f"cannot create state directory {state_dir}: {error}") from error
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StateError(f"state directory {state_dir} is not writable by this user")


def save_state(state: AgentState, state_dir: Path) -> Path:
    """Write ``state`` atomically to ``<state_dir>/agent.json`` with mode 0600."""
    ensure_state_dir(state_dir)
    path = state_dir / STATE_FILE
    temporary = state_dir / f".{STATE_FILE}.{os.getpid()}.tmp"
    data = json.dumps(asdict(state), indent=2) + "\n"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(state_dir)
    return path


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk (rename(2) and
    # ext4's data=ordered); without this a power cut can bring the old file back.
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_state(state_dir: Path) -> AgentState | None:
    """The saved state, or ``None`` when this agent has never enrolled.

    Raises ``StateError`` for a file that exists but is unreadable or malformed: treating
    it as "not enrolled" would hide a real problem (wrong user, corrupted disk).
    """
    path = state_dir / STATE_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        data = json.loads(raw)
        state = AgentState(
            server_url=str(data["server_url"]),
            device_id=int(data["device_id"]),
            credential=str(data["credential"]),
            ca_file=None if data.get("ca_file") is None else str(data["ca_file"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise StateError(f"{path} is malformed ({error}); enroll again") from error
    if not state.server_url or not state.credential:
        raise StateError(f"{path} is missing the server URL or the credential; enroll again")
    return state
