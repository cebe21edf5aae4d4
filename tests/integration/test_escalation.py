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

        def every_alert() -> list[dict]:
            # UCR's, and the system's with it: the only service scored, its level is UCR's.
            return stack.get("/v1/alerts").json()["alerts"]

        # A failed attempt is counted when the row is claimed; wait until it is back to pending,
        # so the kill below lands between attempts. (Killed mid-send, a claim holds the row for
        # its two-minute lease before another deliverer may take it: by design, not tested here.)
        # The referrals arrive one by one, as from a source: a refresh that falls between their
        # batches records OPEL 2 on the way (its own alert), as tests/integration/test_stream.py
        # allows; the alert to OPEL 3 is the one this test follows.
        (alert,) = stack.wait_until(
            lambda: (
                [
                    a
                    for a in ucr_alerts()
                    if a["level_to"] == 3
                    and a["deliveries"][0]["attempts"] >= 1
                    and a["deliveries"][0]["state"] == "pending"
                ]
                or None
            ),
            timeout=120,
            what="the OPEL 3 alert, recorded, with a failed first delivery",
        )
        assert alert["level_from"] in (1, 2) and alert["direction"] == "escalation"
        # Down: still to send.
        assert alert["deliveries"][0]["delivered_at"] is None
        # Its evidence is the queue as that refresh found it: all 26 (level 3, score 3.0), or 15
        # or more of them (level 2; with the wait's level 3 a score of 2.5, OPEL 3 already).
        queue = next(i for i in alert["evidence"]["indicators"] if i["name"] == "queue_length")
        assert 15 <= queue["value"] <= 26, queue
        assert queue["level"] == (3 if queue["value"] >= 25 else 2), queue
        assert queue["thresholds"]["level3"] == 25
        recorded = {a["id"] for a in every_alert()}

        # Kill the worker outright, between scoring and delivery. Then the webhook comes up.
        assert stack.processes["worker"].stop(signal.SIGKILL) == -signal.SIGKILL
        receiver.start()
        try:
            stack.start_worker()

            def sent() -> list[dict]:
                return [json.loads(request.body) for request in receiver.requests]

            stack.wait_until(
                lambda: recorded <= {body["alert_id"] for body in sent()},
                timeout=120,
                what="the delivery of every alert recorded (the OPEL 3 one among them)",
            )
            # Three more scoring rounds (every 2 s) and delivery polls (every 1 s): nothing new
            # is sent, and nothing twice.
            time.sleep(6)
            ids = [body["alert_id"] for body in sent()]
            assert sorted(ids) == sorted(recorded), [r.headers for r in receiver.requests]
            request = next(
                r for r in receiver.requests if json.loads(r.body)["alert_id"] == alert["id"]
            )
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
            assert {a["id"]: a["deliveries"][0]["state"] for a in every_alert()} == dict.fromkeys(
                recorded, "delivered"
            )
            pressure = stack.get("/v1/pressure").json()
            ucr = next(s for s in pressure["services"] if s["id"] == "lch-ucr")
            assert (ucr["level"], ucr["score"]) == (3, 3.0)
        finally:
            receiver.stop()
