"""Alerts (placeholder until the triage pages land)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from soc.triage.principal import Principal
from soc.web.auth import reader
from soc.web.render import page

router = APIRouter()


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request, _: Annotated[Principal, Depends(reader("alerts.read"))]) -> HTMLResponse:
    return page(request, "error.html", message="")
