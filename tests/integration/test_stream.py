"""`GET /v1/stream` on real parts: a client connected to the API hears a service escalate, the
alert, and its acknowledgement, as they happen."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.feeds import publish, ucr_referrals
from tests.integration.stack import TEST_API_KEY, Stack, running_stack, stack_env

pytestmark = pytest.mark.integration


class Listener(threading.Thread):
    """A client of the stream, parsing server-sent events as a browser's EventSource would."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.url = f"{stack.api_url}/v1/stream"
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connected_at: datetime | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TEST_API_KEY}", "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=None) as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                self.connected_at = datetime.now(UTC)
                kind, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        data.append(line.partition(":")[2].strip())
                    elif not line and data:
                        self.events.append((kind, json.loads("\n".join(data))))
                        kind, data = "message", []
        except BaseException as error:
            self.error = error

    def find(self, event: str, /, **fields: Any) -> dict[str, Any] | None:
        if self.error:
            raise self.error
        for event_kind, data in list(self.events):
            if event_kind == event and all(data.get(k) == v for k, v in fields.items()):
                return data
        return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_connected_client_hears_an_escalation_and_its_acknowledgement(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = stack_env(kafka_bootstrap, database_url, tmp_path, FLOWSIGHT_DAILY_REFRESH_SECONDS="2")
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        # Without a key the stream is refused like every other viewer endpoint.
        assert httpx.get(f"{stack.api_url}/v1/stream", timeout=10).status_code == 401

        listener = Listener(stack)
        listener.start()
        # Live: a score the worker published after the client connected (not the snapshot),
        # and lch-ucr not scored, having reported nothing (not OPEL 1). A refresh sends each
        # scope's score in turn: the first one live may come before lch-ucr's.
        stack.wait_until(
            lambda: (
                any(
                    kind == "pressure"
                    and listener.connected_at
                    and data["as_of"]
                    and datetime.fromisoformat(data["as_of"]) > listener.connected_at
                    for kind, data in list(listener.events)
                )
                and listener.find(
                    "pressure", scope="lch-ucr", level=None, not_scored_reason="no figures yet"
                )
            ),
            timeout=60,
            what="a live pressure event on the stream, and lch-ucr not scored",
        )

        # 26 urgent community response referrals waiting five hours: OPEL 3, an escalation from
        # 1, where every escalation starts (see test_escalation for the arithmetic).
        since = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
        referrals = ucr_referrals(26, since)
        started = time.monotonic()
        asyncio.run(
            publish(
                kafka_bootstrap,
                stack.settings.ingest_topic("RY6"),
                *(json.dumps(r).encode() for r in referrals),
            )
        )
        alert = stack.wait_until(
            lambda: listener.find("alert", kind="level_change", scope="lch-ucr", level_to=3),
            timeout=90,
            what="the escalation alert on the stream",
        )
        # Through OPEL 2 on the way when a refresh falls between the referrals' batches.
        assert alert["level_from"] in (1, 2) and alert["direction"] == "escalation"
        # The referrals may be applied in more than one batch: a score on the way (2.5, the
        # queue not yet 25 long) may come first.
        pressure = stack.wait_until(
            lambda: listener.find("pressure", scope="lch-ucr", level=3, score=3.0),
            timeout=30,
            what="lch-ucr at OPEL 3 on the stream",
        )
        assert pressure["scored_level"] == 3
        heard_after = time.monotonic() - started

        acknowledged = httpx.post(
            f"{stack.api_url}/v1/alerts/{alert['alert_id']}/ack",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            json={"note": "extra UCR car on the road"},
            timeout=10,
        )
        assert acknowledged.status_code == 200, acknowledged.text
        ack = stack.wait_until(
            lambda: listener.find("alert", kind="acknowledgement", id=alert["alert_id"]),
            timeout=30,
            what="the acknowledgement on the stream",
        )
        assert ack["acknowledged_note"] == "extra UCR car on the road"
        # Unchanged scores are not repeated: one lch-ucr event per distinct state.
        ucr = [d for k, d in list(listener.events) if k == "pressure" and d["scope"] == "lch-ucr"]
        states = [(d["level"], d["scored_level"], d["score"]) for d in ucr]
        assert len(states) - 1 <= len(set(states)), states  # the snapshot may repeat once
        print(f"escalation heard on the stream {heard_after:.1f} s after publishing")


class ResumingListener(threading.Thread):
    """A client of the stream that reconnects as a browser's EventSource does: after a dropped
    connection it connects again, sending the last event id it received as `Last-Event-ID`."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.url = f"{stack.api_url}/v1/stream"
        #: (connection number, event id, kind, data) of every event received.
        self.events: list[tuple[int, str | None, str, dict[str, Any]]] = []
        self.connections = 0
        self.last_id: str | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            headers = {"Authorization": f"Bearer {TEST_API_KEY}", "Accept": "text/event-stream"}
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=None) as response:
                    if response.status_code != 200:
                        raise httpx.TransportError(f"answered {response.status_code}")
                    self.connections += 1
                    self._read(response)
            except httpx.HTTPError:
                pass  # the API is away: try again, as EventSource does
            time.sleep(0.3)

    def _read(self, response: httpx.Response) -> None:
        kind, data, event_id = "message", [], None
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("id:"):
                event_id = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data.append(line.partition(":")[2].strip())
            elif not line and data:
                self.events.append((self.connections, event_id, kind, json.loads("\n".join(data))))
                if event_id:
                    self.last_id = event_id
                kind, data, event_id = "message", [], None

    def alerts(self, connection: int | None = None) -> list[str]:
        """The test's alert ids received (on one connection, or all), in order."""
        return [
            data["alert_id"]
            for number, _, kind, data in list(self.events)
            if kind == "alert"
            and str(data.get("alert_id", "")).startswith("resume-")
            and connection in (None, number)
        ]

    def scores(self, scope: str, connection: int) -> list[float]:
        return [
            data["score"]
            for number, _, kind, data in list(self.events)
            if kind == "pressure" and data["scope"] == scope and number == connection
        ]


def alert(number: int) -> bytes:
    return json.dumps({"kind": "level_change", "alert_id": f"resume-{number}"}).encode()


def score(value: float) -> bytes:
    """A score of a scope only this test publishes, as the worker words its records."""
    return json.dumps(
        {
            "scope": "resume-test",
            "level": 1,
            "published_level": 1,
            "score": value,
            "indicators": [],
            "as_of": datetime.now(UTC).isoformat(),
        }
    ).encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_client_reconnecting_after_an_api_restart_misses_nothing_and_gets_nothing_twice(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = stack_env(kafka_bootstrap, database_url, tmp_path)
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        alerts_topic, pressure_topic = stack.settings.alerts_topic, stack.settings.pressure_topic
        listener = ResumingListener(stack)
        listener.start()
        try:
            stack.wait_until(lambda: listener.connections == 1, 30, "the client connected")
            # Live before the restart: the scope's first score and an alert.
            asyncio.run(publish(kafka_bootstrap, pressure_topic, score(1.0)))
            asyncio.run(publish(kafka_bootstrap, alerts_topic, alert(1)))
            stack.wait_until(lambda: listener.alerts() == ["resume-1"], 60, "the first alert")
            assert listener.scores("resume-test", 1) == [1.0]

            stack.processes["api"].stop()
            # Published while no API runs: an unchanged score (not news), two changes, alerts.
            asyncio.run(
                publish(kafka_bootstrap, pressure_topic, score(1.0), score(2.0), score(2.0))
            )
            asyncio.run(publish(kafka_bootstrap, alerts_topic, alert(2), alert(3)))
            asyncio.run(publish(kafka_bootstrap, pressure_topic, score(3.0)))

            stack.start_api()  # a new process: nothing in memory of the old one
            stack.wait_until(
                lambda: listener.alerts(2) == ["resume-2", "resume-3"], 60, "the alerts missed"
            )
            asyncio.run(publish(kafka_bootstrap, alerts_topic, alert(4)))
            stack.wait_until(lambda: "resume-4" in listener.alerts(), 60, "a live alert")
            time.sleep(1)  # anything doubled would have arrived by now
        finally:
            listener.stopping.set()

        assert listener.connections == 2
        assert listener.alerts() == ["resume-1", "resume-2", "resume-3", "resume-4"]
        assert listener.alerts(2) == ["resume-2", "resume-3", "resume-4"]
        # The changes of the scope while the API was away, once each; no repeat of 1.0.
        assert listener.scores("resume-test", 2) == [2.0, 3.0]
        # A resumed stream is what was missed, not every scope's snapshot first (the worker's own
        # scores have not changed meanwhile).
        resumed = {
            data["scope"] for n, _, kind, data in listener.events if n == 2 and kind == "pressure"
        }
        assert resumed == {"resume-test"}
        ids = [event_id for _, event_id, kind, _ in listener.events if kind == "alert"]
        assert all(ids) and len(set(ids)) == len(ids)


async def test_alerts_written_while_the_api_waits_for_the_workers_topics_reach_its_clients(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # The API waits for the worker to make the topics; positioned at their end once it saw
    # them, the first alerts, written meanwhile, reached no client (a test waited 60 s for one).
    from flowsight.adapters.kafka.admin import ensure_topics
    from flowsight.api.live import LiveFeed
    from flowsight.settings import Settings

    namespace = f"t{time.monotonic_ns()}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="local",
        kafka_bootstrap=kafka_bootstrap,
        topic_namespace=namespace,
        data_dir=tmp_path,
    )
    feed = LiveFeed(settings)
    client = feed.subscribe()
    try:
        await asyncio.sleep(0.5)  # the reader is waiting for the topics
        await ensure_topics(settings, [settings.pressure_topic, settings.alerts_topic])
        await publish(kafka_bootstrap, settings.alerts_topic, alert(1))

        change = await asyncio.wait_for(client.get(), 30)
    finally:
        await feed.close()

    assert (change.kind, change.data["alert_id"]) == ("alert", "resume-1")
