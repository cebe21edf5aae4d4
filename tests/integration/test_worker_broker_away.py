"""Processes whose broker has gone away still stop when asked, and their logs stay readable.

A service manager stopping flowsight in a broker outage (a node drained, a deployment rolled
back) sends SIGTERM and, after its grace period, SIGKILL: Kubernetes waits 30 s. The worker
waited 60 s for its Kafka consumer's thread, which aiokafka's fetcher had left without a word;
the API and the MLLP listener, with a record queued for the absent broker, waited for ever.
Meanwhile each of their Kafka clients logged every reconnection, every 100 ms: thousands of
lines a minute, the same few sentences."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from flowsight.api.auth import new_api_key
from flowsight.devtools.bench.harness import Flowsight, free_port, local_kafka
from flowsight.devtools.faults.mllp import ACCEPTED, MllpSender
from tests.integration.feeds import event

pytestmark = pytest.mark.integration

#: How long the broker stays away before everything is stopped: long enough for every client
#: to be retrying, several times a second each, and for a request and a message to be queued.
AWAY_SECONDS = 8
#: Kubernetes' default grace period between SIGTERM and SIGKILL.
GRACE_SECONDS = 30


def test_every_process_stops_within_its_grace_and_logs_each_retry_once_while_kafka_is_away(
    tmp_path: Path,
) -> None:
    kafka = local_kafka(tmp_path / "broker", heap="512m")
    kafka.start(180)
    key, entry = new_api_key("hospital-feed", ["publisher:RR8"])
    # The worker scores every 2 s: its producer most likely holds scores for the absent broker
    # when it is stopped (faust's stop waited for them for ever: before the fix, 2 full runs in
    # 3 were stuck past 30 s, scoring every 30 s). tests/streams/test_transport.py shows the
    # give-up itself.
    flowsight = Flowsight(
        kafka.settings.kafka_bootstrap,
        tmp_path / "flowsight",
        extra={"FLOWSIGHT_API_KEYS": entry, "FLOWSIGHT_DAILY_REFRESH_SECONDS": "2"},
    )
    mllp_port = free_port()
    try:
        asyncio.run(flowsight.create_topics())
        flowsight.start("worker")
        flowsight.start("api")
        flowsight.start(
            f"hl7 listen --organisation RR8 --service lth-wards --port {mllp_port}", "mllp"
        )
        asyncio.run(flowsight.wait_api())
        events = [
            event("referral", event_id=f"referral-away-{n}", to_service="lch-ucr", status="new")
            for n in range(3)
        ]
        # Through the API, so that its producer is connected when the broker goes.
        answered: dict[str, object] = {}
        _post(flowsight.api_url, key, events, answered)
        assert answered["http"] == 202, answered
        asyncio.run(flowsight.wait_caught_up(len(events), within=120))  # reading, group joined

        kafka.stop()
        # A publisher's request and an interface engine's message, each waiting on the broker.
        answers: dict[str, object] = {}
        late = event("referral", event_id="referral-away-late", to_service="lch-ucr", status="new")
        senders = [
            threading.Thread(target=_post, args=(flowsight.api_url, key, late, answers)),
            threading.Thread(target=_send_hl7, args=(mllp_port, flowsight, answers)),
        ]
        for sender in senders:
            sender.start()
        time.sleep(AWAY_SECONDS)

        asked = time.monotonic()
        for name in ("api", "mllp", "worker"):
            os.killpg(flowsight.processes[name].pid, signal.SIGTERM)
        for name in ("api", "mllp", "worker"):
            try:
                flowsight.processes[name].wait(max(1.0, asked + GRACE_SECONDS - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Where it waits: the worker logs each thread's and task's stack on SIGUSR1.
                os.kill(flowsight.processes[name].pid, signal.SIGUSR1)
                time.sleep(3)
                pytest.fail(
                    f"{name} still running {GRACE_SECONDS} s after SIGTERM:\n"
                    + flowsight.log_tail(name, 40_000)
                )
        for sender in senders:
            sender.join(60)
        # Neither was told its event was stored: the publisher and the engine send it again. The
        # publisher is told so (503, not a 500 of a request cancelled as the API stopped).
        assert answers["http"] == 503 and answers["hl7"] not in ACCEPTED, answers

        for name in ("worker", "api", "mllp"):
            log = (flowsight.directory / f"{name}.log").read_text(errors="replace")
            for noise in ("Traceback", "Exception in", "Unclosed"):
                assert noise not in log, f"{name}: {log[-3000:]}"
            away = log[log.find("Unable connect") :] if "Unable connect" in log else ""
            lines = away.count("\n")
            # A line of each kind (a client, a sentence) once, not one each 100 ms: the worker
            # alone wrote ~40 lines a second before.
            assert lines < 60, f"{name}: {lines} lines while Kafka was away:\n{away[:3000]}"
        worker_log = (flowsight.directory / "worker.log").read_text(errors="replace")
        assert "Unable connect" in worker_log, f"the worker never noticed:\n{worker_log[-3000:]}"
        assert flowsight.processes["worker"].returncode == 0, flowsight.log_tail("worker")
    finally:
        flowsight.stop_all()
        kafka.stop()


def _post(api_url: str, key: str, body: object, answers: dict[str, object]) -> None:
    try:
        response = httpx.post(
            f"{api_url}/v1/events",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        answers["http"] = response.status_code
    except httpx.HTTPError as error:
        answers["http"] = type(error).__name__


def _send_hl7(port: int, flowsight: Flowsight, answers: dict[str, object]) -> None:
    answers["hl7"] = asyncio.run(MllpSender(port, flowsight.settings).send())
