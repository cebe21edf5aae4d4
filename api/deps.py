"""Request-scoped dependencies: the read-model connection, the catalogue, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.auth import Authenticator, Principal
from api.problems import Problem
from flowsight.readmodel import store
from flowsight.settings import Settings
from schemas.catalogue import Catalogue


@dataclass
class ApiState:
    """What the API builds once at start-up and shares between requests."""

    settings: Settings
    catalogue: Catalogue
    engine: AsyncEngine
    authenticator: Authenticator
    schema_revision: str


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.flowsight
    return state


StateDep = Annotated[ApiState, Depends(api_state)]


async def read_connection(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """A connection for the request; the request edge owns its transaction."""
    async with state.engine.begin() as connection:
        yield connection


ConnectionDep = Annotated[AsyncConnection, Depends(read_connection)]

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def caller(
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    presented = bearer.credentials if bearer else header_key
    principal = state.authenticator.principal(presented)
    if principal is None:
        raise Problem(
            401,
            "Unauthorised",
            "an API key is required (Authorization: Bearer <key> or X-API-Key)"
            if presented is None
            else "the API key is not recognised",
        )
    return principal


CallerDep = Annotated[Principal, Depends(caller)]


def require(role: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers holding `role`."""

    def _check(principal: CallerDep) -> Principal:
        if not principal.has(role):
            raise Problem(403, "Forbidden", f"this needs the {role!r} role")
        return principal

    return _check


Viewer = Annotated[Principal, Depends(require("viewer"))]


async def audit_read(
    connection: AsyncConnection, request: Request, principal: Principal, action: str
) -> None:
    """Write a patient-level read to the audit log, in the request's transaction."""
    await store.audit(
        connection,
        principal=principal.name,
        action=action,
        resource=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        client=request.client.host if request.client else None,
        at=datetime.now(UTC),
    )
