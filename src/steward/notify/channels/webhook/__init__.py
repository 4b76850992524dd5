"""Signed JSON webhooks: ``X-Steward-Signature: sha256=<hex HMAC of the raw body>``."""
