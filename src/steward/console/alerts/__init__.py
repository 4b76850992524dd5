"""Console pages of the alerts app: alerts, their timeline and actions, and the monitoring
configuration (rules, silences, windows, escalation, rotations, checks, heartbeats,
notification channels). Every rule lives in ``steward.alerts`` / ``steward.notify``; these
views only translate forms into the calls the API makes."""
