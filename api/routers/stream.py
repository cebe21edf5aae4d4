"""`GET /v1/stream`: pressure and alert changes as server-sent events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel import store
from flowsight.api.deps import PresentedKey, StateDep, Viewer
from flowsight.api.live import Change, LiveFeed, pressure_view
from flowsight.api.principal import Authenticator, Unauthenticated
from flowsight.api.problems import problem

router = APIRouter(prefix="/v1", tags=["pressure"])

PING_SECONDS = 15
#: How often a quiet stream re-checks its caller: a stream must not outlive its credential.
RECHECK_SECONDS = 15.0
#: The last event of a stream whose credential expired or was revoked.
CLOSED = Change("closed", {"reason": "the credential is no longer valid; reconnect with a new one"})

#: One event of the stream, as a client's EventSource sees it: its kind and its JSON data.
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["pressure", "alert", "resync", "closed"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


@router.get(
    "/stream",
    summary="Server-sent events: pressure and alert changes, live",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}},
        503: problem("the read model could not give the first state (problem details)"),
    },
)
async def stream(
    request: Request, state: StateDep, _: Viewer, presented: PresentedKey
) -> EventSourceResponse:
    """First a `pressure` event per scope with its current state, then each change as it happens:

    - `pressure`: a scope's published level (`level`), scored level, score and indicators;
    - `alert`: a change of level (`kind: level_change`) or an acknowledgement
      (`kind: acknowledgement`);
    - `resync`: the client fell too far behind; reload `GET /v1/pressure` and carry on.

    A comment line is sent every 15 seconds so proxies keep the connection open. The caller's
    credential is checked again before each change and at least every 15 seconds: when it has
    expired or been revoked, a `closed` event ends the stream.
    """
    feed: LiveFeed = request.app.state.live
    queue = feed.subscribe()  # before the snapshot, so no change falls between the two
    try:
        async with state.engine.connect() as connection:
            snapshot = await pressure_store.states(connection)
    except BaseException:
        feed.unsubscribe(queue)
        raise

    first = [Change("pressure", _view(scope, row)) for scope, row in sorted(snapshot.items())]
    allowed = still_allowed(state.authenticator, presented)

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            async for change in live_changes(first, queue, allowed, RECHECK_SECONDS):
                yield _event(change)
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(events(), ping=PING_SECONDS)


def still_allowed(authenticator: Authenticator, presented: str | None) -> Callable[[], bool]:
    """Whether the credential that opened a stream still names a viewer (a token may expire)."""

    def check() -> bool:
        try:
            return authenticator.authenticate(presented).has("viewer")
        except Unauthenticated:
            return False

    return check


async def live_changes(
    first: list[Change],
    queue: asyncio.Queue[Change],
    allowed: Callable[[], bool],
    recheck_seconds: float,
) -> AsyncIterator[Change]:
    """`first`, then each change from `queue`, for as long as `allowed()`; then `closed`."""
    for change in first:
        yield change
    while True:
        try:
            change = await asyncio.wait_for(queue.get(), recheck_seconds)
        except TimeoutError:
            if not allowed():
                yield CLOSED
                return
            continue
        if not allowed():
            yield CLOSED
            return
        yield change


def _view(scope: str, row: dict[str, Any]) -> dict[str, Any]:
    as_of = store.as_utc(row["as_of"])
    return pressure_view(
        scope,
        row["published_level"],
        row["level"],
        row["score"],
        row["evidence"].get("indicators"),
        as_of.isoformat() if as_of else None,
    )


def _event(change: Change) -> dict[str, Any]:
    return {"event": change.kind, "data": orjson.dumps(change.data).decode()}
