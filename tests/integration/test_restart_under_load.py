"""A worker restarted while events keep arriving processes every one of them.

Integration teams do not stop publishing while a worker restarts. Every referral published before,
during and after the restart must reach the queue, and the worker's consumer group must catch up
with the topics (lag back to zero), which it cannot do if it skipped a record.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.feeds import current, nhs_numbers
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

#: One referral every 40 ms: a busy hour's rate for a city, squeezed into seconds.
INTERVAL_SECONDS = 0.04


def referral(nhs_number: str) -> bytes:
    return json.dumps(
        {
            "event_id": f"referral-{uuid.uuid4().hex}",
            "schema_version": "1",
            "event_type": "referral",
            "source": "RR8/pas",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "service": "lth-wards",
            "patient": {"nhs_number": nhs_number},
            "episode_id": f"EP-{nhs_number}",
            "to_service": "lch-ucr",
            "status": "new",
        }
    ).encode()


class Referrals(threading.Thread):
    """An integration team's feed: one new patient referred to urgent community response at a
    time, each keyed by its episode so they spread over the partitions."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.stopping = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._feed())
        except BaseException as error:
            self.error = error

    async def _feed(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for number in nhs_numbers(1000):
                if self.stopping.is_set():
                    return
                await producer.send_and_wait(
                    self.topic, key=number.encode(), value=referral(number)
                )
                self.sent += 1
                await asyncio.sleep(INTERVAL_SECONDS)
            raise AssertionError("ran out of NHS numbers before being stopped")
        finally:
            await producer.stop()

    def finish(self) -> int:
        self.stopping.set()
        self.join(30)
        if self.error:
            raise self.error
        return self.sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_event_published_across_a_restart_is_processed(stack: Stack) -> None:
    settings = stack.settings
    feed = Referrals(settings.kafka_bootstrap, settings.ingest_topic("RR8"))
    feed.start()
    # The worker has state (a changelog to restore) before it is restarted.
    stack.wait_until(
        lambda: current(stack, "lch-ucr", "queue_length") >= 20,
        timeout=90,
        what="the first referrals in the queue",
    )
    assert stack.processes["worker"].stop() == 0
    stack.start_worker()
    stack.wait_until(
        lambda: stack.worker_metrics(),
        timeout=60,
        what="the restarted worker's metrics",
    )
    time.sleep(5)  # the feed goes on while the restarted worker restores and rejoins
    sent = feed.finish()

    stack.wait_until(
        lambda: current(stack, "lch-ucr", "queue_length") == sent,
        timeout=90,
        what=f"all {sent} referred patients in the queue",
    )
    topics = [settings.ingest_topic("RR8"), settings.events_topic]
    stack.wait_until(
        lambda: all(stack.worker_metric("flowsight_consumer_lag", topic=t) == 0 for t in topics),
        timeout=60,
        what="the worker to commit everything it read (consumer lag 0)",
    )
    assert current(stack, "lch-ucr", "queue_length") == sent, "nothing counted twice"
