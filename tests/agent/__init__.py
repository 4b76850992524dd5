"""Tests of the agent package (``steward.agent``): no Django, no server but a fake one."""
