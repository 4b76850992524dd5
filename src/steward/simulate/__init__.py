"""Simulated agents: many light fake hosts in one process, for demos, tests and benchmarks.

``host`` models one machine's metrics (pure: no I/O, deterministic per index and seed);
``runner`` drives N of them against a server through the real agent protocol
(``docs/agent-protocol.md``): enrollment, heartbeats, one inventory, metrics batches.
``steward simulate`` (``steward.cli.simulate``) is the command line.

Like the agent, this package never imports server code: it is an API client.
"""
