"""The ``steward`` command: server-side commands, the agent, and an API client."""
