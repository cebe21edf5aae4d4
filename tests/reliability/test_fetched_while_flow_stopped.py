"""Records fetched while the flow is stopped are read again, on a partition nothing was ever
committed on too.

faust drops the records a fetch returns while its flow is stopped (a rebalance, the end of a
recovery), then seeks each partition back to its committed offset. aiokafka seeks only where an
offset was committed: a partition whose first records arrived while no worker had committed on
it stayed past them, and the worker sat idle with them unread (a new deployment's first events,
a new feed's, or a partition's first events while its worker was down). The fault is placed
exactly in a real worker: at the end of each recovery, what aiokafka fetched for the stream
partitions is taken and dropped (`inject_fetch_dropped/sitecustomize.py`).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from flowsight.devtools.bench.city import city_events
from flowsight.devtools.bench.harness import Flowsight, stage

pytestmark = pytest.mark.integration

INJECTION = Path(__file__).parent / "inject_fetch_dropped"
WITHIN = 90.0


def _dropped(flowsight: Flowsight) -> list[int]:
    """How many fetched records the injection dropped, at each recovery's end so far."""
    log = (flowsight.directory / "worker.log").read_text(errors="replace")
    return [int(n) for n in re.findall(r"DROPPED (\d+) fetched records", log)]


def _start(flowsight: Flowsight) -> None:
    flowsight.start("worker", "worker", PYTHONPATH=str(INJECTION), DROP_FETCHED_RECORDS="1")


async def test_a_new_deployment_and_a_killed_worker_read_every_record_fetched_and_dropped(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with stage(kafka_bootstrap, tmp_path) as flowsight:
        events = city_events(flowsight.catalogue, 60, volume=0.1)
        await flowsight.create_topics()
        first, then = events[:30], events[30:]
        # A new deployment: nothing committed on any partition yet.
        await flowsight.publish(first)
        _start(flowsight)
        await flowsight.wait_caught_up(len(first), WITHIN)
        assert _dropped(flowsight)[0] > 0, "the fault was placed: fetched records were dropped"
        # A worker killed; new events, some on partitions it had never committed on.
        flowsight.stop("worker", signal.SIGKILL)
        await flowsight.publish(then)
        _start(flowsight)
        await flowsight.wait_caught_up(len(events), WITHIN)
        assert len(_dropped(flowsight)) == 2 and _dropped(flowsight)[1] > 0
