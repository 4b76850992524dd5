"""``steward tickets`` against a live server."""

from __future__ import annotations

import json

import pytest

from steward.cli.main import build_parser
from steward.cli.tickets import configure
from steward.helpdesk.models import SlaEvent
from tests.server.conftest import PASSWORD


def run(argv) -> int:
    """Run the CLI; the tickets commands are added here until cli/main.py wires them."""
    import argparse

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "tickets" not in commands.choices:
        configure(commands)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


@pytest.fixture
def logged_in(live_server, world, monkeypatch, tmp_path):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "client.toml"))
    monkeypatch.delenv("STEWARD_URL", raising=False)
    monkeypatch.delenv("STEWARD_TOKEN", raising=False)
    assert (
        run(
            ["login", "--url", live_server.url, "--email", "tech@acme.test", "--password", PASSWORD]
        )
        == 0
    )
    return world


@pytest.mark.django_db(transaction=True)
def test_create_list_reply_assign_close(logged_in, capsys):
    world = logged_in
    capsys.readouterr()
    assert (
        run(
            [
                "tickets",
                "create",
                "--org",
                str(world.acme.pk),
                "--subject",
                "Fan noise",
                "-m",
                "loud",
                "--priority",
                "P2",
                "--json",
            ]
        )
        == 0
    )
    ticket = json.loads(capsys.readouterr().out)
    tid = str(ticket["id"])
    assert ticket["priority"] == "P2"
    assert run(["tickets", "list", "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [ticket["id"]]
    assert run(["tickets", "list", "--breached", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    SlaEvent.objects.create(ticket_id=ticket["id"], target="resolution", kind=SlaEvent.BREACH)
    assert run(["tickets", "list", "--breached", "--status", "active", "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [ticket["id"]]
    assert run(["tickets", "reply", tid, "-m", "checking", "--internal"]) == 0
    assert run(["tickets", "assign", tid, "--me"]) == 0
    assert "tech@acme.test" in capsys.readouterr().out
    assert run(["tickets", "close", tid, "--resolve", "--note", "cleaned"]) == 0
    assert "resolved" in capsys.readouterr().out
    assert run(["tickets", "show", tid]) == 0
    out = capsys.readouterr().out
    assert "Fan noise" in out and "[internal]" in out and "cleaned" in out
    assert run(["tickets", "list", "--status", "active"]) == 0
    assert "Fan noise" not in capsys.readouterr().out
