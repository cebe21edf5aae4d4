"""`GET /v1/stream`: pressure and alert changes as server-sent events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from flowsight.adapters.readmodel import pressure as pressure_store
from flowsight.adapters.readmodel import store
from flowsight.api import resume
from flowsight.api.deps import ApiState, PresentedKey, StateDep, Viewer
from flowsight.api.live import Change, Changes, LiveFeed, Position, pressure_view
from flowsight.api.places import NoPlace, Places
from flowsight.api.principal import Authenticator, Unauthenticated
from flowsight.api.problems import Problem, problem
from flowsight.services.quoting import quoted

log = logging.getLogger("flowsight.api.stream")

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

#: How long a client refused a stream is asked to wait before asking again: the dashboard's
#: longest pause between reconnections.
RETRY_AFTER_SECONDS = 30


async def stream_place(request: Request, principal: Viewer) -> AsyncIterator[None]:
    """A place among the process's open streams for the caller (as the audit log names it),
    held until its stream has ended, however it ended (FastAPI ends this dependency after the
    answer); a 429 naming the limit reached when none is free."""
    places: Places = request.app.state.streams
    try:
        with places.place(principal.audit_name):
            yield
    except NoPlace as full:
        if full.by_holder:
            limit, detail = (
                "FLOWSIGHT_STREAM_CLIENTS_PER_CALLER",
                f"{principal.audit_name} has {full.most} live streams open already, the most "
                "one caller may have: close one (a dashboard tab) or try again later",
            )
        else:
            limit, detail = (
                "FLOWSIGHT_STREAM_CLIENTS",
                f"{full.most} live streams are open already, the most this API process serves: "
                "try again later",
            )
        raise Problem(
            429,
            "Too many live streams",
            detail,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            limit=limit,
            most=full.most,
        ) from None


@router.get(
    "/stream",
    summary="Server-sent events: pressure and alert changes, live",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}},
        429: problem(
            "the caller has FLOWSIGHT_STREAM_CLIENTS_PER_CALLER streams open already, or the API "
            "process FLOWSIGHT_STREAM_CLIENTS (`limit` names which, `most` its value); "
            "Retry-After says when to ask again"
        ),
        503: problem("the read model could not give the first state (problem details)"),
    },
    dependencies=[Depends(stream_place)],
)
async def stream(
    request: Request,
    state: StateDep,
    _: Viewer,
    presented: PresentedKey,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="the `id` of the last event received, to resume after it",
            max_length=4096,
        ),
    ] = None,
) -> EventSourceResponse:
    """First a `pressure` event per scope with its current state, then each change as it happens:

    - `pressure`: a scope's published level (`level`), scored level, score and indicators;
    - `alert`: a change of level (`kind: level_change`) or an acknowledgement
      (`kind: acknowledgement`);
    - `resync`: the client fell too far behind; reload `GET /v1/pressure` and carry on.

    Each `pressure` and `alert` event has an `id`: the client's position in the worker's
    pressure and alerts topics (every partition's next offset, e.g. `p=12,0,5;a=3,0,0`). A
    client that reconnects with `Last-Event-ID` (a browser's EventSource does so by itself) is
    sent every change after that position, read back from the topics, then the live ones, each
    once and no snapshot first: so nothing is lost when an API process restarts, nor when the
    client reconnects to another replica. An id that is not a position, or one the topics no
    longer hold (retention), gets a fresh start: the snapshot first, as on a first connection.

    A comment line is sent every 15 seconds so proxies keep the connection open. The caller's
    credential is checked again before each change and at least every 15 seconds: when it has
    expired or been revoked, a `closed` event ends the stream.

    Each API process serves at most `FLOWSIGHT_STREAM_CLIENTS` streams at once (500), at most
    `FLOWSIGHT_STREAM_CLIENTS_PER_CALLER` (20) to one caller (one API key or OIDC subject); one
    more is a 429 naming the limit, with `Retry-After`.
    """
    feed: LiveFeed = request.app.state.live
    queue = feed.subscribe()  # before the snapshot, so no change falls between the two
    # Every record read from here on reaches the queue.
    subscribed_at = dict(feed.position) if feed.position is not None else None
    try:
        first, cursor = await _opening(
            state, feed, request.app.state.catch_ups, subscribed_at, last_event_id
        )
    except BaseException:
        feed.unsubscribe(queue)
        raise
    allowed = still_allowed(state.authenticator, presented)

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            async for change in live_changes(first, queue, allowed, RECHECK_SECONDS):
                if cursor.admits(change):
                    yield _event(change, cursor.event_id(change))
        finally:
            feed.unsubscribe(queue)

    return EventSourceResponse(events(), ping=PING_SECONDS)


class Cursor:
    """Where one client is in the topics: which changes it still needs, and its event ids."""

    def __init__(self, feed: LiveFeed, position: Position | None, seen: Changes) -> None:
        self.feed = feed
        self.position = dict(position) if position is not None else None
        self.seen = seen

    def admits(self, change: Change) -> bool:
        """Whether to send `change` (not one sent already); the position moves past it."""
        if change.at is None:
            return True
        kind, partition, offset = change.at
        if self.position is None:
            if self.feed.start is None:
                return self.seen.fresh(change)
            # Subscribed before the reader was positioned: it has passed on all since its start.
            self.position = dict(self.feed.start)
        if offset < self.position.get((kind, partition), 0):
            return False
        self.position[(kind, partition)] = offset + 1
        return self.seen.fresh(change)

    def event_id(self, change: Change) -> str | None:
        if change.kind not in ("pressure", "alert") or self.position is None:
            return None
        return resume.event_id(self.position)


async def _opening(
    state: ApiState,
    feed: LiveFeed,
    readers: Places,
    subscribed_at: Position | None,
    last_event_id: str | None,
) -> tuple[list[Change], Cursor]:
    """The first events of a stream and its cursor: the changes since the client's position
    when it names one that can be caught up from, else every scope's current state."""
    if last_event_id:
        try:
            since = resume.position_of(last_event_id)
            until = subscribed_at or await _started(feed)
            # A scope's score is published on every refresh: two rounds read back before the
            # position give each scope's score as the client last knew it.
            priming = 2 * (len(state.catalogue.services) + 1)
            caught_up, seen = await resume.catch_up(state.settings, since, until, priming, readers)
            return caught_up, Cursor(feed, since, seen)
        except (ValueError, resume.Unresumable) as reason:
            log.info(
                "stream resumed from the current state instead of %s: %s",
                quoted(last_event_id),
                reason,
            )
    async with state.engine.connect() as connection:
        snapshot = await pressure_store.states(connection)
    first = [Change("pressure", _view(scope, row)) for scope, row in sorted(snapshot.items())]
    # The snapshot is what the client knows: a record restating it is no change to send.
    seen = Changes()
    for change in first:
        seen.fresh(change)
    return first, Cursor(feed, subscribed_at, seen)


async def _started(feed: LiveFeed) -> Position:
    """Where the feed started reading; Unresumable if it cannot reach the topics soon."""
    try:
        await asyncio.wait_for(feed.positioned.wait(), resume.CATCH_UP_SECONDS)
    except TimeoutError:
        raise resume.Unresumable("the live feed has not reached Kafka") from None
    assert feed.start is not None
    return feed.start


def still_allowed(
    authenticator: Authenticator, presented: str | None
) -> Callable[[], Awaitable[bool]]:
    """Whether the credential that opened a stream still names a viewer (a token may expire)."""

    async def check() -> bool:
        try:
            return (await authenticator.authenticate_async(presented)).has("viewer")
        except Unauthenticated:
            return False

    return check


async def live_changes(
    first: list[Change],
    queue: asyncio.Queue[Change],
    allowed: Callable[[], Awaitable[bool]],
    recheck_seconds: float,
) -> AsyncIterator[Change]:
    """`first`, then each change from `queue`, for as long as `allowed()`; then `closed`."""
    for change in first:
        yield change
    while True:
        try:
            change = await asyncio.wait_for(queue.get(), recheck_seconds)
        except TimeoutError:
            if not await allowed():
                yield CLOSED
                return
            continue
        if not await allowed():
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


def _event(change: Change, event_id: str | None) -> dict[str, Any]:
    event = {"event": change.kind, "data": orjson.dumps(change.data).decode()}
    return event if event_id is None else {**event, "id": event_id}
