"""Entry point: parse the command line, dispatch, and turn errors into exit codes.

Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 130 interrupted, 141 the
reader of the output went away (``steward ... | head -1``).
Server-side commands import Django only when they run, so ``steward --version``, the
agent and the API client start fast and never need the server's settings.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Sequence

from steward import __version__
from steward.cli.errors import CliError
from steward.config import ConfigError


def _root_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="steward",
        description="Steward: self-hosted IT operations (inventory, monitoring, help desk).",
    )
    parser.add_argument("--version", action="version", version=f"steward {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, commands


def _add_agent(commands: argparse._SubParsersAction) -> None:
    agent = commands.add_parser("agent", help="run or enroll the agent on this machine")
    from steward.agent.cli import configure_parser

    configure_parser(agent)


def build_agent_parser() -> argparse.ArgumentParser:
    """Only ``steward agent``: the agent runs on every machine, so its process does not
    import the server's command modules (they cost it several MB of memory)."""
    parser, commands = _root_parser()
    _add_agent(commands)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from steward.cli import alerts as alerts_cli
    from steward.cli import client, local, simulate, tickets
    from steward.cli import metrics as metrics_cli

    parser, commands = _root_parser()
    local.configure(commands)
    _add_agent(commands)
    client.configure(commands)
    tickets.configure(commands)
    simulate.configure(commands)
    alerts_cli.configure(commands)
    metrics_cli.configure(commands)
    _configure_optional(commands)
    return parser


def _configure_optional(commands) -> None:
    """Commands contributed by optional packages (present once they land)."""
    try:
        from steward.intel.detect_csv import configure_parser as configure_detect
    except ImportError:
        return
    detect = commands.add_parser(
        "detect", help="score a timestamp,value CSV with the streaming anomaly detector"
    )
    configure_detect(detect)


# What a shell reports for a command ended by SIGPIPE (128 + 13), as 130 is 128 + SIGINT.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            code = _dispatch(argv)
        except SystemExit:  # argparse printed --version, --help or a usage error
            _flush_stdout()
            raise
        _flush_stdout()
        return code
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # some other pipe or socket broke: a real error, not `| head`
        # Python ignores SIGPIPE, so a closed pipe is an exception where Unix tools die
        # quietly of the signal. Python flushes stdout again at exit and would print
        # "Exception ignored ... BrokenPipeError": point it at /dev/null first
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _flush_stdout() -> None:
    """Flush here, not at interpreter exit, so a closed pipe is caught in ``main``. (Not
    after an unexpected exception: its traceback must not give way to a quiet 141.)"""
    if sys.stdout is not None:  # None when started with file descriptor 1 closed
        sys.stdout.flush()


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe or socket whose reader has closed it.

    Linux reports POLLERR on the write end of a pipe without a reader (``pipe_poll`` in
    fs/pipe.c) and POLLHUP on a Unix socket whose peer closed it, so a BrokenPipeError
    from elsewhere (a child's stdin, a connection) is not mistaken for ``| head`` and
    silenced. Without poll() (Windows) the error is taken at its word."""
    if not hasattr(select, "poll"):
        return True
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by a non-file (tests)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _dispatch(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_agent_parser() if words[:1] == ["agent"] else build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        print(f"steward: configuration error: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
