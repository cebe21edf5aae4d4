"""What every answer of the API carries for the browser's and the proxy's sake, and what an
unexpected error is answered with.

- Security headers on every response: no sniffing, no framing, no referrer, a Content Security
  Policy that runs only the scripts the API itself serves (the pages' own, under `/assets/js`;
  with `nosniff` a JSON answer can never run as one) and nothing inline;
- `Cache-Control: no-store` on every `/v1` answer: patient-level lists (pseudonyms, dates) must not
  stay in a browser's or a proxy's cache, and an aggregate is stale within seconds anyway;
- an unexpected error is a 500 problem document that says nothing of its cause; the cause is
  logged (the log formatter keeps secrets and NHS numbers out of it);
- every request body bounded in size (`BODY_MAX_BYTES`; one declared larger is refused before
  the caller is authenticated) and in time (`BODY_SECONDS`, a 408 past it);
- a connection error reaching the edge (the database server refused, dropped or did not answer
  the connection) is a 503 like a database error (`api/problems.py`), never a 500.

Swagger UI (`/docs`) and ReDoc start themselves with an inline script (`api/docs_pages.py`): they
are served in local mode only, and their pages are exempt from the policy there.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from flowsight.api.docs_pages import PAGES
from flowsight.api.middleware import BodyBounds, SecurityHeaders
from flowsight.api.problems import problem_response
from flowsight.services.quoting import quoted

log = logging.getLogger("flowsight.api")

#: The largest request body any route reads (docs/security.md); the gateways' own limits are
#: theirs (`routers.events.HTTP_BODY_MAX_BYTES`, `fhir.intake.FHIR_BODY_MAX_BYTES`).
BODY_MAX_BYTES = 1_000_000
#: How long a request's body may take to arrive once a route reads it: 1 MB at 34 kB/s.
BODY_SECONDS = 30.0
#: The gateways, which read their bodies with a limit and an answer of their own.
GATEWAY_PATHS = ("/v1/events", "/fhir")


def content_security_policy() -> str:
    """The policy: the API's own scripts and styles, same-origin fetches, nothing framed."""
    return "; ".join(
        [
            "default-src 'none'",
            # The pages' modules (`/assets/js`); nothing inline, no eval.
            "script-src 'self'",
            # The pages' stylesheet, and the weekly report's own <style> block: no script can
            # run from a style, so inline styles are allowed rather than hashed per report.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def install_hardening(app: FastAPI, *, serve_docs: bool) -> None:
    """Add the headers to every response and the 500 handler to `app`."""
    policy = content_security_policy()
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": policy,
    }

    # Inside the headers: a body refused here still carries them (the last added is outermost).
    app.add_middleware(
        BodyBounds, max_bytes=BODY_MAX_BYTES, seconds=BODY_SECONDS, own_limits=GATEWAY_PATHS
    )
    app.add_middleware(SecurityHeaders, headers=headers, exempt=PAGES if serve_docs else ())

    @app.exception_handler(OSError)
    async def _unreachable(request: Request, error: OSError) -> JSONResponse:
        # The read model's server refused or dropped the connection, or did not answer in time
        # (asyncpg raises these unwrapped): a 503 the caller may retry, as for a database error.
        log.error("database unreachable on %s: %s", quoted(request.url.path), type(error).__name__)
        return problem_response(
            request, 503, "Read model unavailable", "the database could not answer; see /readyz"
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error(
            "unexpected error answering %s %s",
            request.method,
            quoted(request.url.path),
            exc_info=error,
        )
        return problem_response(
            request, 500, "Internal error", "the server could not answer; the error is logged"
        )
