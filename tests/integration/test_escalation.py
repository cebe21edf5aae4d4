"""A service crosses OPEL 3 on real Kafka; the worker is killed between scoring and delivery;
the on-call lead's webhook, down until then, receives the alert exactly once, signed."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowsight.adapters.notify.routes import verify_signature
from tests.adapters.notify.receivers import HttpReceiver
from tests.integration.feeds import publish, ucr_referrals
from tests.integration.stack import free_port, running_stack, stack_env

pytestmark = pytest.mark.integration
SECRET = "escalation-test-webhook-secret-0123456789"


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_kill_between_scoring_and_delivery_loses_nothing_and_sends_once(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    receiver = HttpReceiver(free_port())  # not started: the on-call webhook is down
    routes = [
        {
            "kind": "webhook",
            "name": "oncall",
            "url": f"http://127.0.0.1:{receiver.port}/hook",
            "secret": SECRET,
        }
    ]
    env = stack_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        FLOWSIGHT_ALERT_ROUTES=json.dumps(routes),
        FLOWSIGHT_DAILY_REFRESH_SECONDS="2",
    )
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        settings = stack.settings
        # 26 urgent community response referrals, waiting five hours: UCR thresholds are
        # queue 15/25/40 and longest wait 2/4/8 h, so both indicators score level 3:
        # (3 + 3) / 2 = 3.0 reaches the level-3 cut-off of 2.5 → OPEL 3, from 1.
        since = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
        referrals = ucr_referrals(26, since)
        asyncio.run(
            publish(
                settings.kafka_bootstrap,
                settings.ingest_topic("RY6"),
                *(json.dumps(r).encode() for r in referrals),
            )
        )

        def ucr_alerts() -> list[dict]:
            return stack.get("/v1/alerts?scope=lch-ucr").json()["alerts"]

        # A failed attempt is counted when the row is claimed; wait until it is back to pending,
        # so the kill below lands between attempts. (Killed mid-send, a claim holds the row for
        # its two-minute lease before another deliverer may take it: by design, not tested here.)
        (alert,) = stack.wait_until(
            lambda: (
                [
                    a
                    for a in ucr_alerts()
                    if a["deliveries"][0]["attempts"] >= 1
                    and a["deliveries"][0]["state"] == "pending"
                ]
                or None
            ),
            timeout=120,
            what="the OPEL 3 alert, recorded, with a failed first delivery",
        )
        assert (alert["level_from"], alert["level_to"], alert["direction"]) == (1, 3, "escalation")
        # Down: still to send.
        assert alert["deliveries"][0]["state"] == "pending"
        assert alert["deliveries"][0]["delivered_at"] is None
        queue = next(i for i in alert["evidence"]["indicators"] if i["name"] == "queue_length")
        assert (queue["value"], queue["level"], queue["thresholds"]["level3"]) == (26, 3, 25)

        # Kill the worker outright, between scoring and delivery. Then the webhook comes up.
        assert stack.processes["worker"].stop(signal.SIGKILL) == -signal.SIGKILL
        receiver.start()
        try:
            stack.start_worker()
            stack.wait_until(lambda: receiver.requests, timeout=120, what="the delivery")
            # Three more scoring rounds (every 2 s) and delivery polls (every 1 s): nothing new
            # is sent.
            time.sleep(6)
            assert len(receiver.requests) == 1, [r.headers for r in receiver.requests]
            request = receiver.requests[0]
            assert verify_signature(
                SECRET,
                request.headers["x-flowsight-timestamp"],
                request.body,
                request.headers["x-flowsight-signature"],
                datetime.now(UTC),
            )
            body = json.loads(request.body)
            assert (body["alert_id"], body["scope"], body["level_to"]) == (
                alert["id"],
                "lch-ucr",
                3,
            )
            (after,) = ucr_alerts()
            assert after["deliveries"][0]["state"] == "delivered"
            pressure = stack.get("/v1/pressure").json()
            ucr = next(s for s in pressure["services"] if s["id"] == "lch-ucr")
            assert (ucr["level"], ucr["score"]) == (3, 3.0)
        finally:
            receiver.stop()
