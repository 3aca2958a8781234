"""Triage: the service layer the analysts' web app and API stand on.

Every function takes a `Principal` and scopes what it reads or changes to the principal's
agencies (see `principal.py`), so no front end can forget agency isolation.
"""
