"""``steward apply|export|alerts|checks`` on the server host (local mode, --json)."""

from __future__ import annotations

import json

import pytest

from steward.cli.main import build_parser
from tests.alerts.test_yaml import FILE

pytestmark = pytest.mark.django_db


def run(capsys, *argv: str):
    from steward.cli import alerts as alerts_cli

    parser = build_parser()
    if "apply" not in parser._subparsers._group_actions[0].choices:  # not wired yet
        commands = parser._subparsers._group_actions[0]
        alerts_cli.configure(commands)
    args = parser.parse_args(list(argv))
    code = args.func(args)
    return code, capsys.readouterr().out


def test_apply_export_list_and_run(world, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    path = tmp_path / "monitoring.yaml"
    path.write_text(FILE)
    code, out = run(capsys, "apply", "-f", str(path), "--org", "Acme", "--local", "--json")
    assert code == 0 and json.loads(out)["changed"] == 9
    code, out = run(capsys, "apply", "-f", str(path), "--org", "acme", "--local")
    assert out.strip().endswith("changed 0 of 9 item(s)")
    code, out = run(capsys, "export", "--org", "Acme", "--local")
    assert "name: sshd running" in out
    code, out = run(capsys, "checks", "list", "--org", "Acme", "--local", "--json")
    assert {c["spec"]["name"] for c in json.loads(out)} == {"sshd running", "website"}
    code, out = run(capsys, "alerts", "silence", "--match", 'device="acme-ws-01"', "--for",
                    "2h", "--org", "Acme", "--local", "--json")  # fmt: skip
    assert json.loads(out)["spec"]["matchers"] == ['device="acme-ws-01"']
    code, out = run(capsys, "alerts", "list", "--org", "Acme", "--local", "--json")
    assert json.loads(out) == []
