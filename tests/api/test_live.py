"""What the stream passes on: changes only (of level, score or an indicator), every alert, and a resync for a client left behind;
where a client is (its event id) and which changes it still needs; the shared pressure snapshot."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import cast

import orjson
import pytest

from flowsight.adapters.readmodel.database import create_engine
from flowsight.api.deps import ApiState
from flowsight.api.live import CLIENT_BUFFER, Change, Changes, LiveFeed
from flowsight.api.places import Places
from flowsight.api.resume import event_id, position_of
from flowsight.api.routers.stream import Cursor, _opening
from flowsight.api.snapshot import Snapshot
from flowsight.services.escalation import CATCHING_UP
from flowsight.settings import Settings


def scored(
    scope: str,
    published: int | None,
    level: int | None,
    score: float | None,
    queue: int | None = None,
) -> bytes:
    indicators = [] if queue is None else [{"name": "queue_length", "value": queue, "level": 1}]
    return orjson.dumps(
        {
            "scope": scope,
            "published_level": published,
            "level": level,
            "score": score,
            "indicators": indicators,
            "as_of": "2026-11-23T10:00:00+00:00",
        }
    )


def test_a_score_is_passed_on_only_when_it_changes() -> None:
    changes = Changes()
    first = changes.of("pressure", scored("lch-ucr", 1, 1, 1.0))
    assert first == Change(
        "pressure",
        {
            "scope": "lch-ucr",
            "level": 1,
            "not_scored_reason": None,
            "scored_level": 1,
            "score": 1.0,
            "indicators": [],
            "as_of": "2026-11-23T10:00:00+00:00",
        },
    )
    assert changes.of("pressure", scored("lch-ucr", 1, 1, 1.0)) is None, "the next refresh"
    assert changes.of("pressure", scored("system", 1, 1, 1.0)) is not None, "another scope"
    # Scored lower but held at the published level: still a change worth showing.
    held = changes.of("pressure", scored("lch-ucr", 1, 1, 1.5))
    assert held is not None and held.data["score"] == 1.5


def test_a_scope_never_scored_with_a_level_is_passed_on_as_not_scored_with_why() -> None:
    changes = Changes()
    nothing = changes.of("pressure", scored("lch-ucr", None, None, None))
    assert nothing is not None
    assert (nothing.data["level"], nothing.data["not_scored_reason"]) == (None, "no figures yet")
    held = changes.of("pressure", scored("lch-ucr", None, 3, 2.5))  # behind a backlog
    assert held is not None and held.data["level"] is None
    assert held.data["not_scored_reason"] == CATCHING_UP
    first = changes.of("pressure", scored("lch-ucr", 3, 3, 2.5))
    assert first is not None and (first.data["level"], first.data["not_scored_reason"]) == (3, None)


def test_an_indicator_that_moved_within_its_level_is_passed_on() -> None:
    # A queue of 12 becoming 14 moves no level and no score, but a bed manager watches it.
    changes = Changes()
    assert changes.of("pressure", scored("lch-ucr", 1, 1, 1.0, queue=12)) is not None
    grown = changes.of("pressure", scored("lch-ucr", 1, 1, 1.0, queue=14))
    assert grown is not None and grown.data["indicators"][0]["value"] == 14
    assert changes.of("pressure", scored("lch-ucr", 1, 1, 1.0, queue=14)) is None


def test_every_alert_is_passed_on_and_unreadable_records_are_skipped() -> None:
    changes = Changes()
    alert = orjson.dumps({"kind": "level_change", "alert_id": "a1", "level_to": 3})
    assert (
        changes.of("alerts", alert)
        == changes.of("alerts", alert)
        == Change("alert", {"kind": "level_change", "alert_id": "a1", "level_to": 3})
    )
    assert changes.of("pressure", b"{not json") is None


async def test_a_client_left_behind_is_told_to_resync_and_others_are_not() -> None:
    feed = LiveFeed(Settings(_env_file=None, environment="local"))  # type: ignore[call-arg]
    slow, quick = feed.subscribe(), feed.subscribe()
    await feed.close()  # no Kafka here: changes are handed over directly
    for n in range(CLIENT_BUFFER + 1):
        feed.publish(Change("alert", {"n": n}))
        if n < CLIENT_BUFFER:
            quick.get_nowait()
    assert slow.qsize() == 1
    assert slow.get_nowait().kind == "resync"
    assert quick.get_nowait() == Change("alert", {"n": CLIENT_BUFFER})


def test_an_event_id_names_every_partitions_next_offset_and_reads_back() -> None:
    position = {
        ("pressure", 0): 12,
        ("pressure", 1): 0,
        ("pressure", 2): 5,
        ("alerts", 0): 3,
        ("alerts", 1): 0,
        ("alerts", 2): 0,
    }

    assert event_id(position) == "p=12,0,5;a=3,0,0"
    assert position_of("p=12,0,5;a=3,0,0") == position
    for wrong in ("", "garbage", "p=1", "p=1;x=2", "p=-1;a=0", "p=1,,2;a=0", "a=1;p=2;a=3"):
        with pytest.raises(ValueError, match="not a stream position"):
            position_of(wrong)


async def test_a_long_unusable_last_event_id_is_logged_once_and_cut(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A viewer's header of up to 4,096 characters was logged whole, twice (as given, and quoted
    # again in the reason).
    engine = create_engine(database)
    state = cast(ApiState, SimpleNamespace(engine=engine))
    unusable = "p=" + "9" * 4000
    try:
        with caplog.at_level(logging.INFO, logger="flowsight.api"):
            first, _ = await _opening(state, cast(LiveFeed, None), Places(1), None, unusable)
    finally:
        await engine.dispose()

    assert first == []  # nothing scored yet: the current state is empty
    [line] = [r.getMessage() for r in caplog.records if "stream resumed" in r.getMessage()]
    assert len(line) < 400
    assert "cut from 4002 characters" in line and "not a stream position" in line


def scored_at(partition: int, offset: int, score: float) -> Change:
    view = orjson.loads(scored("lch-ucr", 1, 1, score))
    change = Changes().of("pressure", orjson.dumps(view), ("pressure", partition, offset))
    assert change is not None
    return change


def test_a_cursor_passes_each_change_once_and_its_id_is_where_the_client_is() -> None:
    feed = LiveFeed(Settings(_env_file=None, environment="local"))  # type: ignore[call-arg]
    cursor = Cursor(feed, {("pressure", 0): 5, ("alerts", 0): 2}, Changes())
    told = Change("alert", {"alert_id": "a1"}, ("alerts", 0, 1))
    new = Change("alert", {"alert_id": "a2"}, ("alerts", 0, 2))

    assert not cursor.admits(told), "before the client's position: it has it"
    assert cursor.admits(new) and cursor.event_id(new) == "p=5;a=3"
    assert not cursor.admits(new), "the same record again (catch-up, then the live feed)"
    assert cursor.admits(scored_at(0, 5, 1.0))
    # The same score again is no news, but the client is past it.
    assert not cursor.admits(scored_at(0, 6, 1.0))
    assert cursor.admits(scored_at(0, 7, 2.0)) and cursor.position == {
        ("pressure", 0): 8,
        ("alerts", 0): 3,
    }
    resync = Change("resync", {"reason": "too many changes to send"})
    assert cursor.admits(resync) and cursor.event_id(resync) is None


def test_a_first_client_subscribed_before_the_feed_started_follows_from_its_start() -> None:
    feed = LiveFeed(Settings(_env_file=None, environment="local"))  # type: ignore[call-arg]
    cursor = Cursor(feed, None, Changes())
    feed.start = {("pressure", 0): 10, ("alerts", 0): 4}

    assert cursor.admits(Change("alert", {"n": 1}, ("alerts", 0, 4)))
    assert cursor.event_id(Change("alert", {})) == "p=10;a=5"


async def test_the_feed_tells_its_listeners_of_every_record_and_passes_on_news() -> None:
    feed = LiveFeed(Settings(_env_file=None, environment="local"))  # type: ignore[call-arg]
    feed.position = {("pressure", 0): 0, ("alerts", 0): 0}
    heard: list[int] = []
    feed.listeners.append(lambda: heard.append(1))
    queue = feed.subscribe()
    await feed.close()

    feed.take("pressure", 0, 0, scored("lch-ucr", 1, 1, 1.0))
    feed.take("pressure", 0, 1, scored("lch-ucr", 1, 1, 1.0))  # unchanged

    assert len(heard) == 2 and feed.position[("pressure", 0)] == 2
    assert queue.qsize() == 1 and queue.get_nowait().at == ("pressure", 0, 0)


async def test_requests_share_one_build_and_a_change_makes_the_next_one_build_again() -> None:
    builds: list[int] = []
    release = asyncio.Event()

    async def build() -> int:
        builds.append(len(builds) + 1)
        await release.wait()
        return len(builds)

    snapshot = Snapshot(build, max_age=60)
    waiting = [asyncio.ensure_future(snapshot.get()) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert await snapshot.get() == 1, "fresh: no build"

    snapshot.invalidate()
    assert await snapshot.get() == 2

    # A change seen while a build runs: that build may predate it, so the next request waits
    # for a build that began after it.
    release.clear()
    snapshot.invalidate()
    first = asyncio.ensure_future(snapshot.get())
    await asyncio.sleep(0)
    snapshot.invalidate()
    second = asyncio.ensure_future(snapshot.get())
    await asyncio.sleep(0)
    release.set()
    assert (await first, await second) == (3, 4)


async def test_an_answer_older_than_its_age_is_built_again() -> None:
    count = 0

    async def build() -> int:
        nonlocal count
        count += 1
        return count

    snapshot = Snapshot(build, max_age=0)
    assert [await snapshot.get(), await snapshot.get()] == [1, 2]


async def test_a_failed_build_fails_every_request_waiting_for_it_and_is_not_kept() -> None:
    calls = 0

    async def build() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise OSError("database away")
        return calls

    snapshot = Snapshot(build, max_age=60)
    results = await asyncio.gather(snapshot.get(), snapshot.get(), return_exceptions=True)
    assert [type(r) for r in results] == [OSError, OSError]
    assert await snapshot.get() == 2


async def test_an_aging_answer_is_served_while_the_next_is_built_behind_it() -> None:
    release = asyncio.Event()
    count = 0

    async def build() -> int:
        nonlocal count
        count += 1
        if count > 1:
            await release.wait()
        return count

    snapshot = Snapshot(build, max_age=0.2)
    assert await snapshot.get() == 1
    await asyncio.sleep(0.12)  # past half its age: served at once, the next build begins
    served = await asyncio.wait_for(snapshot.get(), 0.05)
    assert served == 1 and snapshot.builds == 1 and count == 2
    release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await asyncio.wait_for(snapshot.get(), 0.05) == 2


async def test_a_build_ahead_that_fails_is_built_again_by_the_request_that_needs_it() -> None:
    calls = 0

    async def build() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("database away")
        return calls

    snapshot = Snapshot(build, max_age=0.1)
    assert await snapshot.get() == 1
    await asyncio.sleep(0.06)
    assert await snapshot.get() == 1  # the build ahead starts, and fails unseen
    await asyncio.sleep(0.06)
    assert await snapshot.get() == 3
