"""What the stream passes on: changes only, every alert, and a resync for a client left behind."""

from __future__ import annotations

import orjson

from flowsight.api.live import CLIENT_BUFFER, Change, Changes, LiveFeed
from flowsight.settings import Settings


def scored(scope: str, published: int, level: int, score: float) -> bytes:
    return orjson.dumps(
        {
            "scope": scope,
            "published_level": published,
            "level": level,
            "score": score,
            "indicators": [],
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
