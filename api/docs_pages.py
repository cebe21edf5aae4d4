"""The API's documentation pages, Swagger UI (`/docs`) and ReDoc (`/redoc`), served in local mode
with their scripts and stylesheet from the API itself (`/docs/assets`, the files the
`fastapi-offline` package ships), never from a CDN: a developer's machine without the internet,
or on a network that blocks CDNs, still gets the page, and no script from elsewhere runs on the
origin where the dashboard keeps its API key.

FastAPI's own pages load both from a CDN; `create_api` turns them off and calls `install_docs`
in local mode only (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

#: Where the pages' scripts, stylesheet and icon are served.
DOCS_ASSETS = "/docs/assets"
_FILES = Path(fastapi_offline.__file__).resolve().parent / "static"
SWAGGER_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
#: The pages themselves: each starts its script inline, so the policy of api/hardening.py spares them.
PAGES = (SWAGGER_PATH, OAUTH2_REDIRECT_PATH, REDOC_PATH)


def install_docs(app: FastAPI) -> None:
    """Serve `/docs`, its OAuth2 redirect page and `/redoc` on `app`, each with what it loads."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_FILES), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{DOCS_ASSETS}/favicon.png"

    @app.get(SWAGGER_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=favicon,
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
