"""The bed manager's pages: the live dashboard (`/`) and a service's page (`/services/{id}`).

One page serves both; its scripts (`/assets/js`, ES modules) read the path to know which view to
draw. They and its stylesheet are served from `/assets`, the only scripts the Content Security
Policy runs (api/hardening.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

router = APIRouter(tags=["dashboard"])
_STATIC = Path(__file__).resolve().parent.parent / "static"
_PAGE = _STATIC / "dashboard.html"
ASSETS = _STATIC / "assets"


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The system's pressure, a tile per service, delays and open alerts, live."""
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"))


@router.get("/services/{service_id}", response_class=HTMLResponse, include_in_schema=False)
async def service_page(service_id: str) -> HTMLResponse:
    """A service's figures with trends, its queue by pathway and, for caseload, its patients."""
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"))


class _Assets(StaticFiles):
    """The pages' stylesheet and scripts, checked with the server at each load (`no-cache`, an
    unchanged file answered 304): a page of a new release never runs an old release's script
    from the browser's cache."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        # A file's path with a slash after it names no file (a directory's would list it):
        # `/assets/js/main.js/` was served as the script, at a second address.
        if scope["path"].endswith("/"):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_assets(app: FastAPI) -> None:
    """Serve the pages' stylesheet and scripts under `/assets` (no key needed, as for the page:
    they hold no data)."""
    app.mount("/assets", _Assets(directory=ASSETS), name="assets")
