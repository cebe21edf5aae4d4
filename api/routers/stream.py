"""`GET /v1/stream`: pressure and alert changes as server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel import store
from flowsight.api.deps import StateDep, Viewer
from flowsight.api.live import Change, LiveFeed, pressure_view

router = APIRouter(prefix="/v1", tags=["pressure"])

PING_SECONDS = 15


@router.get(
    "/stream",
    summary="Server-sent events: pressure and alert changes, live",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request, state: StateDep, _: Viewer) -> EventSourceResponse:
    """First a `pressure` event per scope with its current state, then each change as it happens:

    - `pressure`: a scope's published level (`level`), scored level, score and indicators;
    - `alert`: a change of level (`kind: level_change`) or an acknowledgement
      (`kind: acknowledgement`);
    - `resync`: the client fell too far behind; reload `GET /v1/pressure` and carry on.

    A comment line is sent every 15 seconds so proxies keep the connection open.
    """
    feed: LiveFeed = request.app.state.live
    queue = feed.subscribe()  # before the snapshot, so no change falls between the two
    try:
        async with state.engine.connect() as connection:
            snapshot = await pressure_store.states(connection)
    except BaseException:
        feed.unsubscribe(queue)
        raise

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            for scope, row in sorted(snapshot.items()):
                yield _event(Change("pressure", _view(scope, row)))
            while True:
                yield _event(await queue.get())
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(events(), ping=PING_SECONDS)


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
