"""Where a `/v1/stream` client is in the worker's topics, and catching a returning client up.

A stream's event id is the client's position: for every partition of the pressure and alerts
topics, the offset of the next record it has not been told about, as `p=12,0,5;a=3,0,0`
(pressure partitions 0, 1, 2; alerts partitions 0, 1, 2). Offsets are the broker's, so an id
means the same on every API process: a client that reconnects (an EventSource sends its last id
as `Last-Event-ID` by itself) to this process after a restart, or to another replica, is sent
every change after its position, read back from the topics, then the live ones.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from flowsight.adapters.kafka.security import client_options
from flowsight.api.live import KINDS, Change, Changes, Position, parse, topic_names
from flowsight.api.places import NoPlace, Places
from flowsight.settings import Settings

#: The longest a returning client's catching up may take before it gets a fresh start instead.
CATCH_UP_SECONDS = 20.0
_SHORT = {"pressure": "p", "alerts": "a"}
_LONG = {short: kind for kind, short in _SHORT.items()}


#: Clients caught up at once by one API process, each with a Kafka reader of its own holding
#: every change since its position; one more starts afresh from the current state, as a client
#: whose position the topics no longer hold does (docs/security.md).
MOST_CAUGHT_UP_AT_ONCE = 4


class Unresumable(Exception):
    """The client's position cannot be caught up from (topics changed, records expired,
    Kafka away, too many clients being caught up): it starts afresh from the current state."""


def event_id(position: Position) -> str:
    """The event id naming `position`."""
    parts = []
    for kind in KINDS:
        offsets = sorted((p, offset) for (k, p), offset in position.items() if k == kind)
        parts.append(f"{_SHORT[kind]}={','.join(str(offset) for _, offset in offsets)}")
    return ";".join(parts)


def position_of(event_id: str) -> Position:
    """The position an event id names; ValueError if it names none (its text is the caller's:
    the error does not quote it)."""
    position: Position = {}
    for part in event_id.strip().split(";"):
        short, _, offsets = part.partition("=")
        kind = _LONG[short] if short in _LONG else None
        if kind is None or any((kind, 0) == key for key in position):
            raise ValueError("not a stream position")
        for partition, offset in enumerate(offsets.split(",")):
            if not offset.isdigit() or len(offset) > 19:
                raise ValueError("not a stream position")
            position[(kind, partition)] = int(offset)
    if {kind for kind, _ in position} != set(KINDS):
        raise ValueError("not a stream position")
    return position


async def catch_up(
    settings: Settings, since: Position, until: Position, priming: int, readers: Places
) -> tuple[list[Change], Changes]:
    """What the records between `since` and `until` state, in order per partition, each with
    where it was read (news or not), and the scores the client knew at `since`.

    `priming` records before `since` in each pressure partition are read for their scores only.
    Unresumable when the partitions differ, `since` is outside what the topics hold, or no
    place is free among `readers`."""
    if set(since) != set(until):
        raise Unresumable("the topics' partitions changed")
    try:
        with readers.place():
            async with asyncio.timeout(CATCH_UP_SECONDS):
                return await _read(settings, since, until, priming)
    except NoPlace:
        raise Unresumable(f"{readers.most} clients are being caught up already") from None
    except (KafkaError, OSError, TimeoutError) as error:
        raise Unresumable(f"the topics could not be read back: {error!r}") from error


async def _read(
    settings: Settings, since: Position, until: Position, priming: int
) -> tuple[list[Change], Changes]:
    names = topic_names(settings)
    tps = {key: TopicPartition(names[key[0]], key[1]) for key in since}
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        begins = await consumer.beginning_offsets(list(tps.values()))
        ends = await consumer.end_offsets(list(tps.values()))
        for key, tp in tps.items():
            if not begins[tp] <= since[key] <= ends[tp]:
                raise Unresumable(f"{tp.topic}[{tp.partition}] no longer holds {since[key]}")
        starts = {
            key: max(begins[tp], since[key] - (priming if key[0] == "pressure" else 0))
            for key, tp in tps.items()
        }
        pending = {key: tp for key, tp in tps.items() if starts[key] < until[key]}
        consumer.assign(list(pending.values()))
        for key, tp in pending.items():
            consumer.seek(tp, starts[key])
        seen = Changes()
        found: list[Change] = []
        while pending:
            batch = await consumer.getmany(*pending.values(), timeout_ms=500)
            for tp, records in batch.items():
                key = (next(kind for kind, name in names.items() if name == tp.topic), tp.partition)
                for record in records:
                    if record.offset >= until[key]:
                        break
                    at = (key[0], key[1], record.offset)
                    if record.offset < since[key]:
                        seen.of(key[0], record.value or b"", at)  # what the client knows
                    elif change := parse(key[0], record.value or b"", at):
                        found.append(change)
            for key, tp in list(pending.items()):
                if await consumer.position(tp) >= until[key]:
                    del pending[key]
        return found, seen
    finally:
        await consumer.stop()
