"""The two busiest reads answered straight from the pressure snapshot, ahead of FastAPI's routing.

`GET /v1/pressure` and a viewer's `GET /v1/services/{id}/queue` are the same bytes for every
caller until the snapshot is rebuilt (`api/routers/pressure.py`). Behind FastAPI, each request
still paid its routing, its dependency resolution and its exception middleware, several times the
cost of the answer (docs/benchmarks.md). `SnapshotAnswers` serves exactly those requests:

- a GET of `/v1/pressure`, or of `/v1/services/<a catalogue service>/queue`, with no query;
- whose credential authenticates (the same `Authenticator`, read from the same two headers by the
  same security schemes as every route) to a caller holding `viewer`, and, for the queue, not
  `caseload`: a caseload caller's queue lists patients and is audited, by the route.

Everything else goes on to the routes, which remain the definition (and the documentation) of
these endpoints: a missing or refused credential (401, logged there), a lacking role (403), a
query, an unknown service, a caseload caller, and any error building the snapshot (the route
answers it as a problem document). The answer is the route's: the same body and headers.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from flowsight.api.deps import ApiState, authenticated, presented_credential
from flowsight.api.routers import pressure, services
from flowsight.api.routers.pressure import current
from flowsight.api.routers.services import queue_without_patients

PRESSURE = "/v1/pressure"
QUEUE_PREFIX, QUEUE_SUFFIX = "/v1/services/", "/queue"
#: The queue page a request without a query asks for (the route's defaults).
DEFAULT_LIMIT, DEFAULT_OFFSET = 100, 0


class SnapshotAnswers:
    """Answers the module docstring's requests from the snapshot; passes on every other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        routes = {
            route.path: route
            for route in (*pressure.router.routes, *services.router.routes)
            if isinstance(route, APIRoute)
        }
        # The routes themselves, so request metrics count an answer under its route template.
        self.pressure_route = routes[PRESSURE]
        self.queue_route = routes[QUEUE_PREFIX + "{service_id}" + QUEUE_SUFFIX]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            path: str = scope["path"]
            if path == PRESSURE or (path.startswith(QUEUE_PREFIX) and path.endswith(QUEUE_SUFFIX)):
                body = await self._answer(scope, path)
                if body is not None:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, path: str) -> bytes | None:
        """The answer's body, or None for the route to answer."""
        request = Request(scope)
        state: ApiState = request.app.state.flowsight
        service = None
        if path != PRESSURE:
            service = path[len(QUEUE_PREFIX) : -len(QUEUE_SUFFIX)]
            if state.catalogue.service(service) is None:
                return None
        try:
            principal = await authenticated(state, await presented_credential(request))
            if not principal.has("viewer") or (service is not None and principal.has("caseload")):
                return None
            latest = await current(request)
        except Exception:  # a refusal, or a read that failed: the route answers it
            return None
        scope["route"] = self.pressure_route if service is None else self.queue_route
        if service is None:
            return latest.body
        return queue_without_patients(latest, service, DEFAULT_LIMIT, DEFAULT_OFFSET)


def install_snapshot_answers(app: FastAPI) -> None:
    """Add `SnapshotAnswers` inside the other middleware (headers, metrics still apply)."""
    app.add_middleware(SnapshotAnswers)
