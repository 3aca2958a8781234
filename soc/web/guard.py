"""Who may read the pages that show data before the analysts' login exists (issue 6).

Readers are local (loopback, not through a proxy) or present an API token. Collector tokens do
not count: a collector may only send.
"""

from __future__ import annotations

import ipaddress

from fastapi import HTTPException, Request
from sqlalchemy import Engine

from soc.db import tokens
from soc.db.session import session_scope

PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def require_reader(request: Request) -> None:
    if _local(request):
        return
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        db: Engine = request.app.state.db
        with session_scope(db) as session:
            info = tokens.verify(session, raw.strip())
        if info is not None and info.kind == "api":
            return
    raise HTTPException(
        status_code=401,
        detail="this page needs an API token (Authorization: Bearer …) or a local connection",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _local(request: Request) -> bool:
    if request.client is None or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return request.client.host == "testclient"  # Starlette's in-process test client
