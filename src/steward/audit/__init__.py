"""Audit log: every create, update and delete, by whom, from where, with the changed fields."""
