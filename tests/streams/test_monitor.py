"""The worker's quiet monitor still tells faust's consumer which streams are moving.

faust's consumer checks every few seconds, for each partition with records fetched and not yet
processed, when its stream last took an event (`Monitor.stream_inbound_time`); a stream that
never did for five minutes is logged as an error. Here faust's own check runs against the
monitor, with the consumer's state (a partition behind its highwater) stood in for.
"""

from __future__ import annotations

from time import monotonic
from types import SimpleNamespace
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from flowsight.streams.monitor import QuietMonitor

TOPIC_PARTITION = TP("flowsight.events.v1", 2)
FIVE_MINUTES = 300.0


def _consumer_thread(monitor: QuietMonitor, started: float, logged: list[str]) -> Any:
    """faust's consumer thread as `verify_event_path` sees it: started at `started`, its
    partition fetched up to offset 100 and read up to 50, committed a second ago."""
    partition = SimpleNamespace(highwater=100, position=50)
    assignment = SimpleNamespace(state_value=lambda tp: partition)
    fetcher = SimpleNamespace(
        _subscriptions=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
    )
    app = SimpleNamespace(monitor=monitor, topics=SimpleNamespace(acks_enabled_for=lambda _: True))
    return SimpleNamespace(
        consumer=SimpleNamespace(app=app),
        time_started=started,
        tp_stream_timeout_secs=FIVE_MINUTES,
        tp_commit_timeout_secs=FIVE_MINUTES,
        tp_last_committed_at={TOPIC_PARTITION: monotonic() - 1},
        _verify_aiokafka_event_path=lambda now, tp: False,
        _ensure_consumer=lambda: SimpleNamespace(_fetcher=fetcher),
        _log_slow_processing_stream=lambda text, *args: logged.append(text % args),
        _log_slow_processing_commit=lambda text, *args: logged.append(text % args),
        log=SimpleNamespace(error=lambda text, *args: logged.append(text % args)),
    )


def test_a_stream_taking_events_behind_a_backlog_is_not_logged_as_stalled() -> None:
    monitor = QuietMonitor()
    logged: list[str] = []
    thread = _consumer_thread(monitor, started=monotonic() - 2 * FIVE_MINUTES, logged=logged)

    monitor.on_stream_event_in(TOPIC_PARTITION, 49, object(), object())
    AIOKafkaConsumerThread.verify_event_path(thread, monotonic(), TOPIC_PARTITION)

    assert logged == []


def test_a_stream_that_never_took_an_event_is_still_logged() -> None:
    monitor = QuietMonitor()
    logged: list[str] = []
    thread = _consumer_thread(monitor, started=monotonic() - 2 * FIVE_MINUTES, logged=logged)

    AIOKafkaConsumerThread.verify_event_path(thread, monotonic(), TOPIC_PARTITION)

    assert len(logged) == 1
    assert "Stream has not started processing" in logged[0]
