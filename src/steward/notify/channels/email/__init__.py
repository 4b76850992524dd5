"""Email over SMTP, with the channel's own server settings (not Django's EMAIL_*)."""
