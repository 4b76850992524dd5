"""People: users (email + argon2 password + optional TOTP), API tokens, login throttling."""
