"""Accounts, roles, city tenancy, keys, device signatures, audit log and HTTP limits."""
