"""The lateness window: how far behind a source's own newest event an event may still arrive.

Lateness is measured against the newest event time already recorded for the patient from the
same source and the same source episode (`source`, `episode_id`), never across sources. Each
organisation publishes to its own ingest topic keyed by episode, so the events of one source
episode reach the worker in the order they were published, whatever order the worker reads
the topics and partitions in; events of different sources (or episodes) do not. Measured per
source episode, whether an event is too late depends only on what its own source sent before
it: a replay gives the same journeys as the live build, a source that was down for a week can
backfill, and a source that sends an event far behind its own newer events is still refused.
The patient's stored events carry `source`, `episode_id` and `occurred_at`, so the newest one
of each source episode is read off them: nothing else is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flowsight.services.timestamps import parse_timestamp, utc_timestamp

Event = dict[str, Any]


def newest_of_its_source(events: Sequence[Event], event: Event) -> str | None:
    """The newest event time among `events` (in event-time order) from `event`'s own source
    and source episode; None when that source has sent nothing else of the episode."""
    source, episode = event["source"], event.get("episode_id")
    for other in reversed(events):  # newest first: the first match is the newest
        if other["source"] == source and other.get("episode_id") == episode:
            return str(other["occurred_at"])
    return None


def too_late(events: Sequence[Event], event: Event, lateness: timedelta) -> bool:
    """Whether `event` is older by more than `lateness` than the newest event of its own source
    episode among the patient's recorded `events` (in event-time order)."""
    newest = newest_of_its_source(events, event)
    if newest is None or event["occurred_at"] >= newest:
        return False
    return bool(event["occurred_at"] < utc_timestamp(parse_timestamp(newest) - lateness))
