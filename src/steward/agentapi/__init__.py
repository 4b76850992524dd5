"""The versioned agent API (/api/v1/agent/): enrollment, heartbeats, inventory reports.

Kept apart from the people-facing API: its callers are devices authenticated by their own
credential, and it validates what machines send more strictly than what people send.
"""
