"""``steward ... | head``: every command ends quietly with 141 when its reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from steward.cli.main import main

# PYTHONUNBUFFERED unset: buffered, the first write fills Python's buffer and the
# broken pipe only shows when it is flushed; unbuffered, the write itself fails.
BUFFERING = [pytest.param(None, id="buffered"), pytest.param("1", id="unbuffered")]


def _run_into_closed_pipe(words: list[str], unbuffered: str | None) -> tuple[int, str]:
    # The reader closes before the command writes anything: the limit of `| head -c 1`
    # that cannot race with the command (a reader closing later may find it done).
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "steward", *words],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=30,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize("unbuffered", BUFFERING)
@pytest.mark.parametrize(
    "words", [["config", "show"], ["config", "show", "--json"]], ids=["table", "json"]
)
def test_a_closed_reader_ends_any_command_quietly_with_141(words, unbuffered):
    # 141 = 128 + SIGPIPE: what the shell reports for a Unix tool the signal ended.
    assert _run_into_closed_pipe(words, unbuffered) == (141, "")


def test_version_into_a_closed_reader_is_quiet_too():
    # argparse prints the version into the buffer and exits; the flush comes after.
    assert _run_into_closed_pipe(["--version"], None) == (141, "")


def test_a_broken_pipe_that_is_not_stdout_is_not_silenced(monkeypatch):
    # stdout is fine (pytest's capture), so the error came from something else.
    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("steward.cli.local.config_show", broken)
    with pytest.raises(BrokenPipeError):
        main(["config", "show"])
