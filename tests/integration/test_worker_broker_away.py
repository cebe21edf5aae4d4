"""A worker whose broker has gone away still stops when asked, and its log stays readable.

A service manager stopping a worker in a broker outage (a node drained, a deployment rolled
back) sends SIGTERM and, after its grace period, SIGKILL: Kubernetes waits 30 s. The worker
waited 60 s for its Kafka consumer's thread, which aiokafka's fetcher had left without a word,
so it was always killed. Meanwhile each of its Kafka clients logged every reconnection, every
100 ms: thousands of lines a minute, the same three or four sentences."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flowsight.devtools.bench.harness import Flowsight, local_kafka
from tests.integration.feeds import event

pytestmark = pytest.mark.integration

#: How long the broker stays away before the worker is stopped: long enough for every client
#: to be retrying, several times a second each.
AWAY_SECONDS = 8
#: Kubernetes' default grace period between SIGTERM and SIGKILL.
GRACE_SECONDS = 30


def test_a_worker_stops_within_its_grace_and_logs_each_retry_once_while_kafka_is_away(
    tmp_path: Path,
) -> None:
    kafka = local_kafka(tmp_path / "broker", heap="512m")
    kafka.start(180)
    flowsight = Flowsight(kafka.settings.kafka_bootstrap, tmp_path / "flowsight")
    try:
        asyncio.run(flowsight.create_topics())
        worker = flowsight.start("worker")
        events = [event("admission", event_id=f"admission-away-{n}") for n in range(3)]
        asyncio.run(flowsight.publish(events))
        asyncio.run(flowsight.wait_caught_up(len(events), within=120))  # reading, group joined

        kafka.stop()
        time.sleep(AWAY_SECONDS)
        asked = time.monotonic()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {GRACE_SECONDS} s after SIGTERM:\n{flowsight.log_tail('worker')}"
            )
        took = time.monotonic() - asked

        log = (flowsight.directory / "worker.log").read_text(errors="replace")
        away = log[log.find("Unable connect") :]  # from the first failed reconnection on
        assert away, f"the worker never noticed the broker had gone:\n{log[-3000:]}"
        assert "Exception in thread" not in log, log[-3000:]
        lines = away.count("\n")
        # A line of each kind (a client, a sentence) once, not one each 100 ms: this run's
        # clients wrote ~40 lines a second before.
        assert lines < 60, f"{lines} lines in {AWAY_SECONDS + took:.0f} s:\n{away[:3000]}"
        assert worker.returncode == 0, flowsight.log_tail("worker")
    finally:
        flowsight.stop_all()
        kafka.stop()
