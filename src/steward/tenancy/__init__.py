"""Tenancy: organizations, sites, memberships, roles, and the one scoping function."""
