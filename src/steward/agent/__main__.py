"""``python -m steward.agent``: the agent's commands without the project's main CLI.

Useful on a managed machine where only the agent matters, and in tests that need a real
process to send signals to. Same commands and exit statuses as ``steward agent``.
"""

from __future__ import annotations

import argparse
import sys

from steward.agent.cli import configure_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="steward agent", description="Steward agent: enroll, run, print the inventory."
    )
    configure_parser(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
