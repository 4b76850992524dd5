"""``nagios``: run any Nagios-compatible plugin and translate its verdict.

The contract (Nagios Plugin Development Guidelines): exit code 0/1/2/3 means
OK/WARNING/CRITICAL/UNKNOWN, the first output line is the status text, performance data
follows a ``|``. Debian's ``monitoring-plugins`` (``/usr/lib/nagios/plugins``) work as-is.

Trust: the target is executed with the agent's (or server worker's) privileges. Who may
create a ``nagios`` check is therefore a permission question for the server, recorded in
docs/threat-model.md; this module never goes through a shell, so arguments are not
re-interpreted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

from steward.checks.base import CheckResult, CheckSpec, SpecError, Status
from steward.checks.perfdata import parse_plugin_output
from steward.checks.registry import Check, Context, Kind, Param, Side, register

#: Output beyond this is dropped before parsing; plugins print a few lines, a runaway one
#: must not fill the agent's memory or the results upload.
MAX_OUTPUT_CHARS = 64 * 1024


@register
class NagiosCheck(Check):
    name = "nagios"
    summary = "Any Nagios-compatible plugin or script: exit code, message and perfdata"
    side = Side.BOTH
    target_help = "absolute path of the plugin executable"
    params = (
        Param("args", Kind.STR_LIST, "arguments, passed as a list (no shell)", default=[]),
        Param(
            "env",
            Kind.STR_MAP,
            "extra environment variables (LC_ALL=C is set unless given here)",
            default={},
        ),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        if not os.path.isabs(spec.target):
            raise SpecError("target", "must be an absolute path (no PATH lookup)")

    def execute(self, ctx: Context) -> CheckResult:
        argv = [ctx.spec.target, *ctx.params["args"]]
        # A fixed C locale keeps decimal points as '.' in perfdata (check_disk et al.
        # print numbers with printf, which follows LC_NUMERIC).
        env = {**os.environ, "LC_ALL": "C", **ctx.params["env"]}
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # own process group, so a timeout kills grandchildren
            )
        except FileNotFoundError:
            return CheckResult(Status.UNKNOWN, f"plugin not found: {argv[0]}")
        except PermissionError:
            return CheckResult(Status.UNKNOWN, f"plugin is not executable: {argv[0]}")
        try:
            out, err = proc.communicate(timeout=ctx.remaining())
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return CheckResult(
                Status.UNKNOWN,
                f"plugin timed out after {ctx.spec.timeout:g} s and was killed: {argv[0]}",
            )
        return interpret(
            proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def interpret(code: int, stdout: str, stderr: str = "") -> CheckResult:
    """Turn a plugin's exit code and output into a result."""
    parsed = parse_plugin_output(stdout[:MAX_OUTPUT_CHARS])
    message = parsed.message or (stderr.strip().splitlines() or [""])[0]
    details = "\n".join(parsed.long_text)
    if parsed.errors:
        details = "\n".join([details, *(f"perfdata ignored: {e}" for e in parsed.errors)]).strip()
    if code in (0, 1, 2, 3):
        status = Status(code)
    else:
        status = Status.UNKNOWN
        reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        message = f"plugin {reason}: {message}" if message else f"plugin {reason}"
    if not message:
        message = f"plugin returned {status.label} without output"
    return CheckResult(status, message, perfdata=parsed.perfdata, details=details)
