"""The bed manager's pages: the live dashboard (`/`) and a service's page (`/services/{id}`).

One page serves both, so its one inline script is the one the Content Security Policy allows
by hash (api/hardening.py); the script reads the path to know which view to draw.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["dashboard"])
_PAGE = Path(__file__).resolve().parent.parent / "static" / "dashboard.html"


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The system's pressure, a tile per service, delays and open alerts, live."""
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"))


@router.get("/services/{service_id}", response_class=HTMLResponse, include_in_schema=False)
async def service_page(service_id: str) -> HTMLResponse:
    """A service's figures with trends, its queue by pathway and, for caseload, its patients."""
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"))
