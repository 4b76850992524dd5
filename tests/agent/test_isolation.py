"""The agent package stands alone: no server code, no Django, only its declared deps.

A managed machine installs the agent without the server's dependencies, so an import of
``steward.config`` or ``django`` here would break it in the field, not in CI.

One exception: ``steward.checks``, the check implementations the agent runs on the device.
It is a pure package written to ship inside the agent (docs/checks.md: standard library,
psutil, httpx, optionally dnspython; no Django, no other ``steward`` package), and the
server's worker runs the very same code, so a check behaves the same from either side.
The exception holds only while that stays true, which the last tests here check too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import steward.agent
import steward.checks

AGENT_DIR = Path(steward.agent.__file__).parent
CHECKS_DIR = Path(steward.checks.__file__).parent
# HTTP is the standard library's (steward.agent.transport): httpx cost the agent ~17 MB.
ALLOWED_THIRD_PARTY = {"psutil", "platformdirs"}
# The agent's own package, and the pure checks package it runs (see the module docstring).
ALLOWED_STEWARD_PACKAGES = ("steward.agent", "steward.checks")
# steward.checks' http check uses httpx; the agent imports steward.checks only once a check
# is assigned. dnspython is optional for it: imported in a try block, never required.
CHECKS_THIRD_PARTY = {"psutil", "httpx"}
CHECKS_OPTIONAL_THIRD_PARTY = {"dns"}
# What the agent must not load before it needs it (measured: bench/agent_footprint.py).
NOT_LOADED_AT_START = ("httpx", "dns", "steward.checks", "urllib.request", "django")


def imported_modules(source: str, package: str) -> list[str]:
    """Absolute names of the modules ``source`` imports; relative imports are resolved
    against ``package`` (the importing module's package)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                names.append(f"{base}.{node.module}" if node.module else base)
            else:
                names.append(node.module or "")
    return names


def file_imports(path: Path) -> list[str]:
    package = ".".join(path.relative_to(AGENT_DIR.parent.parent).parts[:-1])
    return imported_modules(path.read_text(encoding="utf-8"), package)


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def agent_files() -> list[Path]:
    files = sorted(AGENT_DIR.rglob("*.py"))
    assert len(files) >= 8, files  # the scan really sees the package
    return files


def test_no_agent_module_imports_steward_outside_the_agent_and_checks_packages() -> None:
    offenders = [
        f"{path.relative_to(AGENT_DIR)}: {name}"
        for path in agent_files()
        for name in file_imports(path)
        if is_within(name, "steward")
        and not any(is_within(name, allowed) for allowed in ALLOWED_STEWARD_PACKAGES)
    ]
    assert offenders == []


def test_the_agent_really_uses_steward_checks() -> None:
    # Guard against an allowance nothing needs: remove it together with the last import.
    assert any(
        is_within(name, "steward.checks") for path in agent_files() for name in file_imports(path)
    )


def test_steward_checks_stays_pure_enough_to_ship_inside_the_agent() -> None:
    files = sorted(CHECKS_DIR.rglob("*.py"))
    assert len(files) >= 8, files
    imports = [(path, name) for path in files for name in file_imports(path)]
    steward_offenders = [
        f"{path.name}: {name}"
        for path, name in imports
        if is_within(name, "steward") and not is_within(name, "steward.checks")
    ]
    assert steward_offenders == []
    third_party = {
        name.split(".")[0]
        for _, name in imports
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in ("steward", "__future__")
    }
    assert third_party <= CHECKS_THIRD_PARTY | CHECKS_OPTIONAL_THIRD_PARTY


def test_no_agent_module_imports_django() -> None:
    offenders = [
        f"{path.relative_to(AGENT_DIR)}: {name}"
        for path in agent_files()
        for name in file_imports(path)
        if name.split(".")[0] in ("django", "ninja")
    ]
    assert offenders == []


def test_agent_uses_only_the_standard_library_and_its_declared_dependencies() -> None:
    third_party = {
        name.split(".")[0]
        for path in agent_files()
        for name in file_imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in ("steward", "__future__")
    }
    assert third_party <= ALLOWED_THIRD_PARTY


def test_starting_the_agent_loads_no_heavy_library() -> None:
    # A fresh interpreter: this test process has long imported everything.
    probe = (
        "import sys, steward.agent.__main__, steward.agent.cli, steward.agent.runner\n"
        f"print(' '.join(m for m in {NOT_LOADED_AT_START!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_scanner_sees_absolute_relative_and_nested_imports() -> None:
    # Guard against a scanner that silently sees nothing.
    source = (
        "import django.db\n"
        "from ..config import load\n"
        "from . import client\n"
        "def late():\n"
        "    from steward.server import settings\n"
    )
    assert imported_modules(source, "steward.agent") == [
        "django.db",
        "steward.config",
        "steward.agent",
        "steward.server",
    ]
