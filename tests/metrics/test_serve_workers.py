"""``steward serve --workers N`` / the ``web_workers`` option (server processes for ingest).

Here rather than in tests/cli because the option exists for metrics ingest throughput.
"""

from __future__ import annotations

import pytest

from steward.cli import local
from steward.cli.errors import CliError
from steward.cli.main import build_parser


def serve_args(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_workers_default_to_one(settings):
    settings.STEWARD = {k: v for k, v in settings.STEWARD.items() if k != "web_workers"}
    assert local.web_workers(serve_args()) == 1


def test_the_web_workers_option_applies_without_the_flag(settings):
    settings.STEWARD = {**settings.STEWARD, "web_workers": 3}
    assert local.web_workers(serve_args()) == 3


def test_the_flag_wins_over_the_option(settings):
    settings.STEWARD = {**settings.STEWARD, "web_workers": 3}
    assert local.web_workers(serve_args("--workers", "2")) == 2


def test_less_than_one_worker_is_refused():
    with pytest.raises(CliError, match="at least 1"):
        local.web_workers(serve_args("--workers", "0"))


@pytest.mark.parametrize(("argv", "expected"), [((), None), (("--workers", "2"), 2)])
def test_serve_hands_the_worker_count_to_uvicorn(monkeypatch, argv, expected):
    import uvicorn

    calls = []
    monkeypatch.setattr(
        local, "setup_django", lambda: type("C", (), {"host": "h", "port": 1, "tls_cert": ""})()
    )
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    assert local.serve(serve_args(*argv)) == 0
    assert calls[0].get("workers") == expected
