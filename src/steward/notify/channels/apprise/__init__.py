"""Any service apprise speaks (Slack, Teams, Telegram, ntfy, Matrix, ...) from one URL."""
