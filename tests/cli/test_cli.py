"""The steward command: local commands in-process, client commands against a live server."""

from __future__ import annotations

import json

import pytest

from steward.accounts.models import ApiToken, User
from steward.cli.main import main
from tests.server.conftest import PASSWORD


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("steward 0.")


def test_bad_configuration_is_exit_2_naming_the_key(monkeypatch, capsys):
    monkeypatch.setenv("STEWARD_PORT", "http")
    assert main(["config", "show"]) == 2
    assert "STEWARD_PORT: expected an integer" in capsys.readouterr().err


def test_config_show_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("STEWARD_SECRET_KEY", "very-secret-value")
    assert main(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["secret_key"] == "********"
    assert shown["port"] == 8080


@pytest.mark.django_db
def test_token_create_prints_the_token_last(world, capsys):
    assert main(["token", "create", "--user", "tech@acme.test", "--role", "viewer"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.authenticate(secret)
    assert token.user == world.technician and token.role == "viewer"


@pytest.mark.django_db
def test_token_create_for_unknown_user_fails(capsys):
    assert main(["token", "create", "--user", "nobody@x.test"]) == 1
    assert "no active user" in capsys.readouterr().err


@pytest.mark.django_db
def test_user_create_joins_an_organization(world, capsys):
    code = main(
        [
            "user",
            "create",
            "--email",
            "New@Acme.test",
            "--password",
            PASSWORD,
            "--org",
            "Acme",
            "--role",
            "viewer",
        ]
    )
    assert code == 0
    user = User.objects.get(email="new@acme.test")
    assert user.memberships.get().role == "viewer"


@pytest.mark.django_db
def test_user_create_rejects_weak_passwords(capsys):
    assert main(["user", "create", "--email", "a@b.test", "--password", "123"]) == 2
    assert "password" in capsys.readouterr().err


@pytest.fixture
def logged_in(live_server, world, monkeypatch, tmp_path):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "client.toml"))
    monkeypatch.delenv("STEWARD_URL", raising=False)
    monkeypatch.delenv("STEWARD_TOKEN", raising=False)
    code = main(
        ["login", "--url", live_server.url, "--email", "tech@acme.test", "--password", PASSWORD]
    )
    assert code == 0
    assert (tmp_path / "client.toml").stat().st_mode & 0o777 == 0o600
    return live_server


@pytest.mark.django_db(transaction=True)
def test_client_commands_list_what_the_user_may_see(logged_in, capsys):
    capsys.readouterr()
    assert main(["devices", "list", "--json"]) == 0
    devices = json.loads(capsys.readouterr().out)
    assert [d["hostname"] for d in devices] == ["acme-ws-01"]
    assert devices[0]["status"] == "offline"
    assert main(["orgs", "list"]) == 0
    table = capsys.readouterr().out
    assert "Acme" in table and "Globex" not in table
    assert main(["sites", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "HQ"
    assert main(["devices", "show", "acme-ws-01"]) == 0
    shown = capsys.readouterr().out
    assert "Host name" in shown
    assert "Firing alerts   none" in shown


@pytest.mark.django_db(transaction=True)
def test_devices_list_shows_firing_alerts_and_failing_checks(logged_in, world, capsys):
    from tests.console.test_core_dashboard import make_alert, make_check

    make_alert(world.acme_device, "warning")
    make_alert(world.acme_device, "critical", phase="pending")
    make_alert(world.acme_device, "critical", phase="resolved")
    make_check(world.acme, "disk", "critical", world.acme_device)
    capsys.readouterr()
    assert main(["devices", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    at = header.index("ALERTS")
    assert row[at:].startswith("2 (critical)")
    assert row[header.index("FAILING CHECKS") :].startswith("1 ")
    assert main(["devices", "list", "--json"]) == 0
    device = json.loads(capsys.readouterr().out)[0]
    assert (device["firing_alerts"], device["alert_severity"], device["failing_checks"]) == (
        2,
        "critical",
        1,
    )
    assert main(["devices", "show", "acme-ws-01"]) == 0
    shown = capsys.readouterr().out
    assert "2 (critical)" in shown
    assert "Failing checks  1" in shown


@pytest.mark.django_db(transaction=True)
def test_client_errors_go_to_stderr_with_non_zero_exit(logged_in, capsys):
    assert main(["devices", "show", "999999"]) == 1
    assert "404" in capsys.readouterr().err
    assert main(["devices", "show", "globex-srv-01"]) == 1


@pytest.mark.django_db(transaction=True)
def test_environment_token_overrides_the_stored_login(
    live_server, world, monkeypatch, capsys, tmp_path
):
    _, secret = ApiToken.issue(world.outsider, "env")
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("STEWARD_URL", live_server.url)
    monkeypatch.setenv("STEWARD_TOKEN", secret)
    assert main(["devices", "list", "--json"]) == 0
    assert [d["hostname"] for d in json.loads(capsys.readouterr().out)] == ["globex-srv-01"]


def test_not_logged_in_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("STEWARD_URL", raising=False)
    monkeypatch.delenv("STEWARD_TOKEN", raising=False)
    assert main(["devices", "list"]) == 2
    assert "not logged in" in capsys.readouterr().err


def test_detect_scores_a_csv(tmp_path, capsys):
    source = tmp_path / "series.csv"
    rows = ["timestamp,value"] + [f"{1_700_000_000 + 60 * i},{10 + (i % 5)}" for i in range(50)]
    source.write_text("\n".join(rows) + "\n")
    assert main(["detect", str(source)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "timestamp,anomaly_score" and len(out) == 51
    source.write_text("timestamp,value\n1700000000,1\n1700000060,abc\n")
    assert main(["detect", str(source)]) == 2
    assert "3" in capsys.readouterr().err


def test_worker_waits_at_most_the_configured_interval(monkeypatch):
    """``STEWARD_WORKER_INTERVAL`` reaches the scheduling loop (it was once ignored)."""
    import signal

    from steward.jobs import worker as jobs

    seen = {}
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep pytest's own handlers
    monkeypatch.setenv("STEWARD_WORKER_INTERVAL", "7")
    monkeypatch.setattr(jobs, "loop", lambda stop, interval: seen.setdefault("interval", interval))
    assert main(["worker"]) == 0
    assert seen["interval"] == 7.0


@pytest.mark.django_db(transaction=True)
def test_metrics_interval_shows_and_sets_a_scopes_interval(
    live_server, world, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "client.toml"))
    monkeypatch.delenv("STEWARD_URL", raising=False)
    monkeypatch.delenv("STEWARD_TOKEN", raising=False)
    login = ["login", "--url", live_server.url, "--password", PASSWORD, "--email"]
    assert main([*login, "admin@acme.test"]) == 0
    capsys.readouterr()
    assert main(["metrics", "interval", "--device", "acme-ws-01"]) == 0
    shown = capsys.readouterr().out
    assert "Own interval  none (inherits)" in shown
    assert "In effect     10 s (from the server default)" in shown
    assert main(["metrics", "interval", "--site", str(world.acme_hq.pk), "--set", "30"]) == 0
    assert "30 s (from the site)" in capsys.readouterr().out
    assert main(["metrics", "interval", "--device", "acme-ws-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "organization_id": world.acme.pk,
        "site_id": None,
        "device_id": world.acme_device.pk,
        "interval": None,
        "effective": 30,
        "source": "site",
    }
    assert main(["metrics", "interval", "--site", str(world.acme_hq.pk), "--inherit"]) == 0
    assert "10 s (from the server default)" in capsys.readouterr().out
    assert main(["metrics", "interval", "--org", str(world.acme.pk), "--set", "0"]) == 2
    assert "between 1 and 3600" in capsys.readouterr().err
    # A technician may look but not change.
    assert main([*login, "tech@acme.test"]) == 0
    assert main(["metrics", "interval", "--org", str(world.acme.pk), "--set", "20"]) == 1
    assert "403" in capsys.readouterr().err
