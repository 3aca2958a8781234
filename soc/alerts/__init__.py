"""Alerts: deterministic ids, create-only writes, suppressions."""
