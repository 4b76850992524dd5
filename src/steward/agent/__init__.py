"""Steward's agent: runs on every managed machine and reports to the server over HTTP.

The agent is deliberately its own world: it imports nothing from ``steward`` outside
``steward.agent`` and nothing from Django, and it talks to the server only through the
versioned protocol in ``docs/agent-protocol.md``. That keeps the install on a managed
machine small (psutil and platformdirs; HTTP on the standard library) and lets agent and
server be released apart.
"""

# Hardcoded rather than imported from ``steward.__version__``: the agent may not import
# anything outside ``steward.agent`` (see tests/agent/test_isolation.py). Bump it together
# with the project version.
AGENT_VERSION = "0.1.0"
