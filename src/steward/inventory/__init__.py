"""Devices, their tags, installed software, enrollment tokens and online/offline history."""
