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
        # Live: a score the worker published after the client connected (not the snapshot).
        stack.wait_until(
            lambda: any(
                kind == "pressure"
                and listener.connected_at
                and data["as_of"]
                and datetime.fromisoformat(data["as_of"]) > listener.connected_at
                for kind, data in list(listener.events)
            ),
            timeout=60,
            what="a live pressure event on the stream",
        )
        assert listener.find("pressure", scope="lch-ucr", level=1)

        # 26 urgent community response referrals waiting five hours: OPEL 1 → 3 (see
        # test_escalation for the arithmetic).
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
        assert alert["level_from"] == 1 and alert["direction"] == "escalation"
        pressure = stack.wait_until(
            lambda: listener.find("pressure", scope="lch-ucr", level=3),
            timeout=30,
            what="lch-ucr at OPEL 3 on the stream",
        )
        assert pressure["score"] == 3.0 and pressure["scored_level"] == 3
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
