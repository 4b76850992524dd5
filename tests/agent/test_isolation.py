"""The agent package stands alone: no server code, no Django, only its declared deps.

A managed machine installs the agent without the server's dependencies, so an import of
``steward.config`` or ``django`` here would break it in the field, not in CI.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import steward.agent

AGENT_DIR = Path(steward.agent.__file__).parent
ALLOWED_THIRD_PARTY = {"psutil", "httpx", "platformdirs"}


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


def agent_files() -> list[Path]:
    files = sorted(AGENT_DIR.rglob("*.py"))
    assert len(files) >= 8, files  # the scan really sees the package
    return files


def test_no_agent_module_imports_steward_outside_the_agent_package() -> None:
    offenders = [
        f"{path.relative_to(AGENT_DIR)}: {name}"
        for path in agent_files()
        for name in file_imports(path)
        if (name == "steward" or name.startswith("steward."))
        and not (name == "steward.agent" or name.startswith("steward.agent."))
    ]
    assert offenders == []


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
