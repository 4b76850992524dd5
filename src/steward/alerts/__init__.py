"""Alerts and checks: the Django side of monitoring.

The pure engine (``steward.alerting``) decides; this app stores its state, feeds it inputs
(metric samples, check results, device heartbeats, heartbeat pings) and applies the actions
it returns (transition rows, notifications through ``steward.notify``). See docs/alerts.md.
"""
