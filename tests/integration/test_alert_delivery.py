"""Alert delivery end to end: the outbox on SQLite and PostgreSQL, real receivers on loopback.

Exactly-once notification: an outage or a crash never loses an alert (the outbox keeps it until
a receiver accepted it). A crash, or an answer lost, between a receiver accepting and the row
being marked re-sends it with the same dedupe key; exactly-once then relies on the receiver
dropping the repeat by that key. That window is the only one in which a receiver sees it twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.notify.delivery import Deliverer, RetryPolicy
from flowsight.adapters.notify.routes import AlertRoutes, Route
from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.adapters.readmodel.outbox import (
    Alert,
    acknowledge,
    as_utc,
    deliveries,
    record_alert,
    retry_failed,
)
from tests.adapters.notify.alertmanager import LocalAlertmanager, install
from tests.adapters.notify.examples import escalation_alert
from tests.adapters.notify.receivers import HttpReceiver, Mailbox
from tests.integration.stack import free_port

SECRET = "integration-webhook-secret-0123456789"
QUICK = RetryPolicy(max_attempts=3, initial_seconds=10, max_seconds=60, jitter_seconds=1)


class Clock:
    """The deliverer's idea of now, moved on by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, database_url)  # Alembic runs its own event loop
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def webhook_routes(port: int) -> dict[str, Route]:
    document = [{"kind": "webhook", "url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}]
    return AlertRoutes.model_validate(document).by_name()


async def record(engine: AsyncEngine, alert: Alert, routes: dict[str, Route], at: datetime) -> bool:
    async with engine.begin() as connection:
        return await record_alert(connection, alert, routes, at)


async def outbox(engine: AsyncEngine, alert: Alert) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        return await deliveries(connection, alert.id)


def sample(deliverer: Deliverer, name: str, **labels: str) -> float:
    return deliverer.metrics.registry.get_sample_value(name, labels) or 0.0


def make_deliverer(
    engine: AsyncEngine, routes: dict[str, Route], clock: Clock, **options: Any
) -> Deliverer:
    return Deliverer(engine, routes, CollectorRegistry(), policy=QUICK, clock=clock, **options)


async def test_a_receiver_that_is_down_gets_the_alert_once_when_it_comes_back(
    engine: AsyncEngine,
) -> None:
    port, clock = free_port(), Clock()
    routes = webhook_routes(port)
    alert = escalation_alert(clock.now)
    assert await record(engine, alert, routes, clock.now)
    deliverer = make_deliverer(engine, routes, clock)
    receiver = HttpReceiver(port)
    try:
        # Down: the port is closed. The attempt fails and is put back with a back-off.
        assert await deliverer.run_once() == 1
        (row,) = await outbox(engine, alert)
        assert (row["state"], row["attempts"]) == ("pending", 1)
        assert row["last_error"].startswith("cannot connect")
        assert await deliverer.run_once() == 0  # not due again yet: no hammering
        assert (
            sample(deliverer, "flowsight_alert_deliveries_total", route="webhook", outcome="retry")
            == 1
        )

        receiver.start()
        clock.advance(seconds=11)  # past the first back-off (10 s + up to 1 s of jitter)
        assert await deliverer.run_once() == 1
        clock.advance(days=1)
        assert await deliverer.run_once() == 0  # delivered rows are never claimed again
        # The pressure agent replaying the same level change records nothing new.
        assert not await record(engine, escalation_alert(alert.at), routes, clock.now)
        assert await deliverer.run_once() == 0
    finally:
        receiver.stop()
        await deliverer.aclose()

    (request,) = receiver.requests
    assert request.path == "/hook"
    timestamp, body = request.headers["x-flowsight-timestamp"], request.body
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert request.headers["x-flowsight-signature"] == f"sha256={expected.hexdigest()}"
    assert abs(time.time() - int(timestamp)) < 60  # fresh, so a replay can be refused
    assert request.headers["x-flowsight-dedupe-key"] == f"{alert.id}/webhook"
    document = json.loads(body)
    assert (document["scope"], document["level_from"], document["level_to"]) == ("lth-ed", 2, 3)
    assert {i["name"]: i["level"] for i in document["evidence"]["indicators"]} == {
        "four_hour_breach_pct": 3,
        "queue_length": 3,
    }
    (row,) = await outbox(engine, alert)
    assert (row["state"], row["attempts"]) == ("delivered", 2)
    assert (
        sample(deliverer, "flowsight_alert_deliveries_total", route="webhook", outcome="delivered")
        == 1
    )


async def test_a_receiver_answering_400_fails_the_delivery_once_with_the_reason(
    engine: AsyncEngine,
) -> None:
    port, clock = free_port(), Clock()
    routes = webhook_routes(port)
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    receiver = HttpReceiver(port, status=400, answer=b"unknown channel").start()
    deliverer = make_deliverer(engine, routes, clock)
    try:
        assert await deliverer.run_once() == 1
        for _ in range(5):  # however long the deliverer keeps running, no retry storm
            clock.advance(hours=1)
            assert await deliverer.run_once() == 0
    finally:
        receiver.stop()
        await deliverer.aclose()
    assert len(receiver.requests) == 1
    (row,) = await outbox(engine, alert)
    assert (row["state"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "HTTP 400 Bad Request: unknown channel"
    assert (
        sample(deliverer, "flowsight_alert_deliveries_total", route="webhook", outcome="failed")
        == 1
    )
    assert sample(deliverer, "flowsight_alert_outbox", state="failed") == 1
    # An operator who fixed the receiver can put it back in the queue.
    async with engine.begin() as connection:
        assert await retry_failed(connection, clock.now, alert.id) == 1


async def test_a_failing_receiver_is_retried_with_growing_back_off_then_given_up(
    engine: AsyncEngine,
) -> None:
    port, clock = free_port(), Clock()
    routes = webhook_routes(port)
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    receiver = HttpReceiver(port, status=503, answer=b"maintenance").start()
    deliverer = make_deliverer(engine, routes, clock)
    waits = []
    try:
        for _ in range(QUICK.max_attempts):
            assert await deliverer.run_once() == 1
            (row,) = await outbox(engine, alert)
            if row["state"] == "pending":
                due = as_utc(row["next_attempt_at"])
                waits.append((due - clock.now).total_seconds())
                clock.now = due
    finally:
        receiver.stop()
        await deliverer.aclose()
    assert len(receiver.requests) == QUICK.max_attempts == 3
    assert 10 <= waits[0] <= 11 and 20 <= waits[1] <= 21  # 10 s, then 20 s, each + jitter
    (row,) = await outbox(engine, alert)
    assert row["state"] == "failed"
    assert (
        row["last_error"] == "gave up after 3 attempts: HTTP 503 Service Unavailable: maintenance"
    )


class Crash(BaseException):
    """The process dying: nothing after it runs, nothing catches it."""


class CrashAfterSending:
    """A route that delivers for real, then kills the deliverer before it can mark the row."""

    def __init__(self, route: Route) -> None:
        self.route = route

    @property
    def route_name(self) -> str:
        return self.route.route_name

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        await self.route.deliver(alert, dedupe_key, client)
        raise Crash


async def test_a_crash_between_sending_and_marking_resends_with_the_same_dedupe_key(
    engine: AsyncEngine,
) -> None:
    port, clock = free_port(), Clock()
    routes = webhook_routes(port)
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    receiver = HttpReceiver(port).start()
    lease = timedelta(minutes=2)
    crashing = make_deliverer(
        engine, {"webhook": CrashAfterSending(routes["webhook"])}, clock, lease=lease
    )
    restarted = make_deliverer(engine, routes, clock, lease=lease)
    try:
        with pytest.raises(Crash):
            await crashing.run_once()
        (row,) = await outbox(engine, alert)
        assert (row["state"], row["attempts"]) == ("delivering", 1)
        assert await restarted.run_once() == 0  # the dead deliverer's lease still holds
        clock.advance(seconds=lease.total_seconds())
        assert await restarted.run_once() == 1
        clock.advance(days=1)
        assert await restarted.run_once() == 0
    finally:
        receiver.stop()
        await crashing.aclose()
        await restarted.aclose()
    keys = [request.headers["x-flowsight-dedupe-key"] for request in receiver.requests]
    assert keys == [f"{alert.id}/webhook"] * 2  # the receiver can tell the second is a repeat
    assert len({request.body for request in receiver.requests}) == 1
    (row,) = await outbox(engine, alert)
    assert (row["state"], row["attempts"]) == ("delivered", 2)


async def test_concurrent_deliverers_never_send_the_same_delivery_twice(
    engine: AsyncEngine,
) -> None:
    port, clock = free_port(), Clock()
    routes = webhook_routes(port)
    alerts = [escalation_alert(clock.now, minutes_apart=n) for n in range(30)]
    for alert in alerts:
        await record(engine, alert, routes, clock.now)
    receiver = HttpReceiver(port).start()
    deliverers = [make_deliverer(engine, routes, clock, batch_size=4) for _ in range(3)]
    try:
        for _ in range(10):
            await asyncio.gather(*(d.run_once() for d in deliverers))
    finally:
        receiver.stop()
        for deliverer in deliverers:
            await deliverer.aclose()
    keys = sorted(request.headers["x-flowsight-dedupe-key"] for request in receiver.requests)
    assert keys == sorted(f"{alert.id}/webhook" for alert in alerts)


async def test_a_route_no_longer_configured_fails_visibly(engine: AsyncEngine) -> None:
    clock = Clock()
    alert = escalation_alert(clock.now)
    await record(engine, alert, webhook_routes(free_port()), clock.now)
    deliverer = make_deliverer(engine, {}, clock)
    try:
        assert await deliverer.run_once() == 1
    finally:
        await deliverer.aclose()
    (row,) = await outbox(engine, alert)
    assert (row["state"], row["last_error"]) == ("failed", "route 'webhook' is not configured")


async def test_an_alert_is_acknowledged_once(engine: AsyncEngine) -> None:
    clock = Clock()
    alert = escalation_alert(clock.now)
    await record(engine, alert, {}, clock.now)
    async with engine.begin() as connection:
        assert await acknowledge(connection, alert.id, "silver-lead", "ED huddle at 10", clock.now)
        assert not await acknowledge(connection, alert.id, "someone-else", None, clock.now)
        assert not await acknowledge(connection, "no-such-alert", "silver-lead", None, clock.now)


async def test_teams_receives_an_adaptive_card(engine: AsyncEngine) -> None:
    port, clock = free_port(), Clock()
    routes = AlertRoutes.model_validate(
        [{"kind": "teams", "url": f"http://127.0.0.1:{port}/workflows/x?sig=secret"}]
    ).by_name()
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    receiver = HttpReceiver(port, status=202).start()  # what a Teams workflow answers
    deliverer = make_deliverer(engine, routes, clock)
    try:
        assert await deliverer.run_once() == 1
    finally:
        receiver.stop()
        await deliverer.aclose()
    (request,) = receiver.requests
    card = json.loads(request.body)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == "lth-ed escalated to OPEL 3 (from 2)"
    assert (await outbox(engine, alert))[0]["state"] == "delivered"


async def test_an_smtp_server_receives_the_email(engine: AsyncEngine) -> None:
    mailbox, clock = Mailbox(), Clock()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    routes = AlertRoutes.model_validate(
        [
            {
                "kind": "email",
                "host": "127.0.0.1",
                "port": controller.port,
                "sender": "flowsight@leeds.example",
                "recipients": ["silver@leeds.example", "gold@leeds.example"],
                "security": "none",  # this test server offers no STARTTLS
            }
        ]
    ).by_name()
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    deliverer = make_deliverer(engine, routes, clock)
    controller.start()
    try:
        assert await deliverer.run_once() == 1
    finally:
        controller.stop()
        await deliverer.aclose()
    ((envelope, _),) = mailbox.messages
    assert envelope.rcpt_tos == ["silver@leeds.example", "gold@leeds.example"]
    message = message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == "[flowsight] lth-ed escalated to OPEL 3 (from 2)"
    assert message["X-Flowsight-Dedupe-Key"] == f"{alert.id}/email"
    assert (await outbox(engine, alert))[0]["state"] == "delivered"


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager for the session; installed if missing. Never skips: fails instead."""
    server = LocalAlertmanager(tmp_path_factory.mktemp("alertmanager"), free_port())
    try:
        install()
        server.start()
    except Exception as error:
        pytest.fail(f"could not run Prometheus Alertmanager: {error}", pytrace=False)
    yield server.url
    server.stop()


async def test_alertmanager_shows_the_alert_once_however_often_it_is_sent(
    engine: AsyncEngine, alertmanager: str
) -> None:
    clock = Clock()
    routes = AlertRoutes.model_validate([{"kind": "alertmanager", "url": alertmanager}]).by_name()
    alert = escalation_alert(clock.now)
    await record(engine, alert, routes, clock.now)
    deliverer = make_deliverer(engine, routes, clock)
    try:
        assert await deliverer.run_once() == 1
        # A resend (as after a crash before marking) carries the same labels: one alert.
        async with httpx.AsyncClient() as client:
            await routes["alertmanager"].deliver(alert, f"{alert.id}/alertmanager", client)
            response = await client.get(
                f"{alertmanager}/api/v2/alerts", params={"filter": f'alert_id="{alert.id}"'}
            )
    finally:
        await deliverer.aclose()
    response.raise_for_status()
    (shown,) = response.json()
    assert shown["labels"] == {
        "alertname": "FlowsightOPEL",
        "scope": "lth-ed",
        "opel_level": "3",
        "severity": "warning",
        "direction": "escalation",
        "alert_id": alert.id,
        "dedupe_key": f"{alert.id}/alertmanager",
    }
    assert shown["annotations"]["summary"] == "lth-ed escalated to OPEL 3 (from 2)"
    assert shown["status"]["state"] == "active"
    assert (await outbox(engine, alert))[0]["state"] == "delivered"


class Held:
    """A route whose receiver takes the alert and does not answer until released."""

    def __init__(self) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def deliver(self, alert: Alert, dedupe_key: str, client: httpx.AsyncClient) -> None:
        self.started.set()
        await self.release.wait()


async def test_a_receiver_that_does_not_answer_holds_only_its_own_alerts(
    engine: AsyncEngine,
) -> None:
    # A webhook answering in 30 s held every other route's alerts for as long: the deliverer
    # claimed the next batch only once every send of the last had ended.
    port, clock = free_port(), Clock()
    held = Held()
    routes: dict[str, Any] = {**webhook_routes(port), "held": held}
    first, second = escalation_alert(clock.now), escalation_alert(clock.now, minutes_apart=5)
    assert await record(engine, first, routes, clock.now)
    deliverer = make_deliverer(engine, routes, clock)
    receiver = HttpReceiver(port).start()
    stop = asyncio.Event()
    running = asyncio.create_task(deliverer.run(stop, poll_seconds=0.05))
    try:
        await asyncio.wait_for(held.started.wait(), 10)
        assert await record(engine, second, routes, clock.now)
        for _ in range(200):  # up to 10 s for the webhook to receive the second alert
            if len(receiver.requests) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(receiver.requests) == 2, "the webhook waited for the held receiver"
        assert not held.release.is_set()
    finally:
        held.release.set()
        stop.set()
        await asyncio.wait_for(running, 10)
        receiver.stop()
        await deliverer.aclose()
