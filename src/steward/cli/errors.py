"""Errors the CLI turns into a message on stderr and an exit code."""


class CliError(Exception):
    """A user-facing failure: printed as ``steward: <message>``, exit code ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
