"""What a worker's consumer knows of each partition it reads, for an operator asking why a
partition does not move (the worker logs it on SIGUSR1, with its stacks).

Only offsets, counts and flags: no key, value or header of any record.

Per partition: faust's committed offset (the next one to read), the offset it last handed to
its streams, the partition's end as last fetched, aiokafka's fetch position, whether it is
paused or left out of the fetch, how many offsets are acknowledged but not yet committed, the
gaps faust keeps and how many records were handed over and not acknowledged. Then the flow's
state and, per agent, the events in its stream's queue and in its batch being filled.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Iterator
from typing import Any

#: The first line of the state as the worker logs it (`flowsight/worker.py`).
CONSUMER_HEADING = "consumer, on SIGUSR1:"
#: The code names of the batching generators (the agents' own, `streams/batches.py`, and
#: faust's), each with its stream's local name: their buffer holds events taken but not done.
_BATCHING = {"_gathered": "stream", "take": "self", "take_events": "self"}


def consumer_state(app: Any) -> str:
    """The consumer's partitions, its flow and its agents' buffers, one line each."""
    try:
        return "\n".join(_lines(app))
    except Exception as error:  # a worker half started or stopping: say so, never raise here
        return f"consumer state unavailable: {error!r}"


def _lines(app: Any) -> Iterator[str]:
    consumer = app.consumer
    yield (
        f"flow active {consumer.flow_active}, flow control active {app.flow_control.is_active()}"
        f", rebalancing {app.rebalancing}, in recovery {app.in_recovery}, generation "
        f"{app.consumer_generation_id}"
    )
    client = _aiokafka(consumer)
    active = consumer._active_partitions
    unacked: dict[Any, int] = {}
    for message in list(consumer._unacked_messages):
        unacked[message.tp] = unacked.get(message.tp, 0) + 1
    assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
    for tp in assigned:
        state = client._subscription.subscription.assignment.state_value(tp) if client else None
        position = state.position if state is not None and state.has_valid_position else None
        fields = {
            "committed": consumer._committed_offset.get(tp),
            "read": consumer._read_offset.get(tp),
            "end": _highwater(consumer, tp),
            "position": position,
            "paused": bool(state.paused) if state is not None else "?",
            "fetched": active is None or tp in active or tp in consumer._buffered_partitions,
            "acked": len(consumer._acked.get(tp, ())),
            "gaps": len(consumer._gap.get(tp, ())),
            "unacked": unacked.get(tp, 0),
        }
        yield f"{tp.topic}[{tp.partition}] " + " ".join(f"{k} {v}" for k, v in fields.items())
    batches = _batches()
    for agent in app.agents.values():
        for actor in list(agent._actors):
            queue = actor.stream.channel.queue
            batch = batches.get(id(actor.stream), "-")
            yield f"agent {agent.name}: queue {queue.qsize()}, batch being filled {batch}"


def _aiokafka(consumer: Any) -> Any:
    try:
        return consumer._thread._ensure_consumer()
    except Exception:  # not started
        return None


def _highwater(consumer: Any, tp: Any) -> int | None:
    try:
        return int(consumer.highwater(tp))
    except Exception:  # not fetched yet
        return None


def _batches() -> dict[int, int]:
    """Per stream (by id), the events in the batch being filled: kept in the generator's frame,
    reached only through the collector's list of objects."""
    found: dict[int, int] = {}
    for thing in gc.get_objects():
        if isinstance(thing, types.AsyncGeneratorType) and thing.ag_code.co_name in _BATCHING:
            frame, name = thing.ag_frame, _BATCHING[thing.ag_code.co_name]
            if frame is not None and name in frame.f_locals:
                found[id(frame.f_locals[name])] = len(frame.f_locals.get("buffer", ()))
    return found
