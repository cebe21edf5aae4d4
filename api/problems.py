"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowsight.schemas.strict_json import beyond_python
from flowsight.services.pseudonym import without_nhs_numbers
from flowsight.services.quoting import cut, quoted

log = logging.getLogger("flowsight.api")

PROBLEM_JSON = "application/problem+json"
#: Where the OpenAPI document keeps the problem details schema (api/openapi.py puts it there).
PROBLEM_SCHEMA = "Problem"


def problem(description: str) -> dict[str, Any]:
    """A `responses=` entry for OpenAPI: `description`, answered as a problem details document."""
    schema = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


class Problem(Exception):
    """An error to answer with a problem details document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        who: str | None = None,
        record: Callable[[], Awaitable[None]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        #: Headers of the answer besides the problem's (a 429's or 503's Retry-After).
        self.headers = headers or {}
        #: The caller refused (401/403), for the log only: never part of the answer.
        self.who = who
        #: What to record before answering (a refusal's audit line). Run by the handler, once
        #: the route's dependencies have ended, so that a connection it takes is never a second
        #: one held beside the route's own (a pool its peers held would keep it waiting).
        self.record = record


def problem_response(
    request: Request, status: int, title: str, detail: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(_blanked(body), status_code=status, media_type=PROBLEM_JSON)


def _blanked(value: Any) -> Any:
    """`value` with NHS-number shapes blanked in every string: a refusal may quote what the
    caller put in a field or the path, and no answer carries an NHS number (SPEC section 9).
    Each string is cut at ANSWERED_CHARS: a 20,000-character service name the caller sent is not
    sent back whole in the 404, nor a 60 kB path in `instance`."""
    if isinstance(value, str):
        # Cut after blanking: a number cut in two would no longer be seen as one.
        return cut(without_nhs_numbers(value))
    if isinstance(value, dict):
        return {key: _blanked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blanked(item) for item in value]
    return value


def log_denied(request: Request, status: int, who: str | None, why: str) -> None:
    """Log a refused request (401, 403): who was refused what, from where, and why; never the
    credential presented. What the caller chose (the path, a token's text in the reason, the
    address an X-Forwarded-For told a trusting uvicorn) is kept on one line and cut at
    LOGGED_CHARS: a 65 kB path is a log line, not a burden."""
    log.warning(
        "denied %s %s from %s: %s %s (%s)",
        request.method,
        quoted(request.url.path),
        quoted(request.client.host) if request.client else "unknown",
        status,
        who or "unauthenticated",
        quoted(why),
    )


def _unreadable_json(error: StarletteHTTPException) -> str | None:
    """Why a JSON body the standard library cannot read was refused, or None for another error.

    FastAPI answers a body that is not JSON at all with a 422 naming it, but a body deeper than
    Python's recursion limit, with an integer of over 4,300 digits or not in UTF-8 with a bare
    400 "There was an error parsing the body": those are told as the first are."""
    if error.status_code != 400:
        return None
    said = beyond_python(error.__cause__) if error.__cause__ is not None else None
    return None if said is None else f"the body cannot be read as JSON: {said}"


def install_problem_handlers(app: FastAPI) -> None:
    """Answer our own errors, HTTP errors and validation errors as problem details."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        if error.status in (401, 403):
            # Who was refused what, from where, and why; never the credential presented.
            log_denied(request, error.status, error.who, error.detail)
        if error.record is not None:
            await error.record()
        response = problem_response(request, error.status, error.title, error.detail, **error.extra)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        unreadable = _unreadable_json(error)
        if unreadable is not None:
            errors = [{"field": "body", "message": unreadable}]
            return problem_response(
                request, 422, "Invalid request", f"invalid: body ({unreadable})", errors=errors
            )
        response = problem_response(
            request, error.status_code, str(error.detail), str(error.detail)
        )
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, error: SQLAlchemyError) -> JSONResponse:
        # The error's class only: its text quotes the statement's parameters (pseudonyms, notes).
        log.error("database error on %s: %s", quoted(request.url.path), type(error).__name__)
        return problem_response(
            request,
            503,
            "Read model unavailable",
            "the database could not answer; see /readyz",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in error.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            request, 422, "Invalid request", f"invalid: {fields}", errors=errors
        )
