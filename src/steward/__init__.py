"""Steward: one self-hosted install that owns a small business's IT estate."""

__version__ = "0.1.0"
