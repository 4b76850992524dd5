"""Test-wide settings live in tests/settings.py (chosen before Django starts)."""
