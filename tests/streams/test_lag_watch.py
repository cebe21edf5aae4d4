"""The lag task: a lag it cannot measure is no figure, not the last one it had."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError

from flowsight.adapters.catalogue import load_catalogue
from flowsight.settings import DEFAULT_CATALOGUE, Settings
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.tasks import lag as lag_task


class Broker:
    """What the lag task asks the broker: a lag once, then the broker is away."""

    answers: list[dict[str, int] | None] = [{"flowsight.events.v1": 0}, None]

    def __init__(self, *_: object) -> None:
        self.asked = 0

    async def measure(self) -> dict[str, int]:
        answer = Broker.answers[min(self.asked, len(Broker.answers) - 1)]
        self.asked += 1
        if answer is None:
            raise KafkaConnectionError("the broker is away")
        return answer

    async def close(self) -> None:
        return None


async def test_a_lag_the_broker_cannot_give_is_no_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    # It stayed at 0 ("caught up") for as long as the broker was away.
    monkeypatch.setattr(lag_task, "ConsumerLag", Broker)
    metrics, rounds = WorkerMetrics(), []
    seen: list[float | None] = []

    def should_stop() -> bool:
        seen.append(
            metrics.registry.get_sample_value(
                "flowsight_consumer_lag", {"topic": "flowsight.events.v1"}
            )
        )
        rounds.append(1)
        return len(rounds) > 2

    settings = Settings(_env_file=None, lag_sample_seconds=0.001)
    task = lag_task.lag_watch(settings, load_catalogue(DEFAULT_CATALOGUE), metrics, should_stop)

    await task()

    assert seen == [None, 0.0, None]  # before the first sample, measured, then the broker away
