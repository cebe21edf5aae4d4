"""Live state on real parts: three organisations publish to their own ingest topics; the API
shows the queues, delays and figures; a restarted worker shows the same, counting nothing twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowsight.services.facts import LONDON, midnights
from tests.integration.feeds import current, publish
from tests.integration.feeds import service_figures as service
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

SOURCE = {"RR8": "RR8/pas", "RY6": "RY6/systmone", "LCC": "LCC/mosaic"}
NHS_NUMBERS = ["9434765919", "9434765870", "9434765838", "9434765811", "9434765846"]


class Publisher:
    """Publishes contract events as each organisation's integration team would."""

    def __init__(self, stack: Stack, now: datetime) -> None:
        self.stack, self.now, self.count = stack, now, 0

    def send(
        self,
        organisation: str,
        event_type: str,
        service: str,
        ago: timedelta,
        patient: int,
        **fields: Any,
    ) -> None:
        self.count += 1
        event = {
            "event_id": f"{event_type}-{self.count}",
            "schema_version": "1",
            "event_type": event_type,
            "source": SOURCE[organisation],
            "occurred_at": (self.now - ago).isoformat(),
            "service": service,
            "patient": {"nhs_number": NHS_NUMBERS[patient]},
            "episode_id": f"EP-{patient}",
            **fields,
        }
        settings = self.stack.settings
        asyncio.run(
            publish(
                settings.kafka_bootstrap,
                settings.ingest_topic(organisation),
                json.dumps(event).encode(),
            )
        )


def test_three_organisations_make_one_picture_that_survives_a_worker_restart(stack: Stack) -> None:
    now = datetime.now(UTC)
    hours, days = (lambda n: timedelta(hours=n)), (lambda n: timedelta(days=n))
    rr8, ry6, lcc = (Publisher(stack, now) for _ in range(3))
    # Patient 0: through the emergency department into a ward.
    rr8.send("RR8", "attendance", "lth-ed", hours(3), 0, arrived_at=(now - hours(3)).isoformat())
    rr8.send(
        "RR8",
        "attendance",
        "lth-ed",
        hours(2.5),
        0,
        arrived_at=(now - hours(3)).isoformat(),
        departed_at=(now - hours(2.5)).isoformat(),
        outcome="admitted",
    )
    rr8.send("RR8", "admission", "lth-wards", hours(2.5), 0, admission_method="emergency")
    # Patient 1: in a ward four days, ready to go for three, waiting for reablement (P1).
    rr8.send("RR8", "admission", "lth-wards", days(4), 1, admission_method="emergency")
    rr8.send(
        "RR8",
        "assessment",
        "lth-wards",
        days(3),
        1,
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=False,
        discharge_ready_at=(now - days(3)).isoformat(),
        delay_reason="p1_awaiting_resource",
        pathway="P1",
    )
    rr8.send(
        "RR8",
        "referral",
        "lth-wards",
        days(3),
        1,
        to_service="lcc-reablement",
        pathway="P1",
        status="new",
    )
    lcc.send(
        "LCC",
        "referral",
        "lcc-reablement",
        days(2),
        1,
        to_service="lcc-reablement",
        status="accepted",
    )
    # Patients 2 and 3: urgent community response referrals, one declined.
    ry6.send("RY6", "referral", "lch-ucr", hours(1), 2, to_service="lch-ucr", status="new")
    ry6.send("RY6", "referral", "lch-ucr", hours(2), 3, to_service="lch-ucr", status="new")
    ry6.send("RY6", "referral", "lch-ucr", hours(1.5), 3, to_service="lch-ucr", status="declined")
    # Patient 4: a home-care package sourced four days after the referral.
    rr8.send(
        "RR8",
        "referral",
        "lth-wards",
        days(5),
        4,
        to_service="lcc-home-care",
        pathway="P1",
        status="new",
    )
    lcc.send(
        "LCC",
        "admission",
        "lcc-home-care",
        days(1),
        4,
        admission_method="start_of_care",
        care_hours_per_week=10,
    )

    stack.wait_until(
        lambda: (
            current(stack, "lcc-home-care", "in_service") == 1
            and current(stack, "lch-ucr", "queue_length") == 1
            and current(stack, "lth-wards", "delayed_count") == 1
        ),
        timeout=90,
        what="the events of three organisations in the API",
    )
    lost = midnights((now - days(3)).isoformat(), datetime.now(UTC))
    expected = {
        ("lth-wards", "in_service"): 2,
        ("lth-wards", "delayed_count"): 1,
        ("lth-wards", "lost_bed_days"): lost,
        ("lcc-reablement", "queue_length"): 1,
        ("lch-ucr", "queue_length"): 1,
        ("lcc-home-care", "in_service"): 1,
        ("lcc-home-care", "queue_length"): 0,
        ("lth-ed", "queue_length"): 0,
    }
    before = {key: current(stack, *key) for key in expected}
    assert before == expected
    assert stack.get("/v1/pressure").json()["system"]["queue_length"] == 2
    home_care = service(stack, "lcc-home-care")["this_week"]
    if home_care["new_packages"]:  # unless the week began within the last day
        assert home_care["time_to_source_days_mean"] == 4.0
        assert home_care["package_hours_mean"] == 10.0
    delays = stack.get("/v1/delays").json()
    assert (delays["count"], delays["lost_bed_days"]) == (1, lost)
    assert delays["by_reason"] == [
        # A ward's delay: bed days lost, none delayed at home.
        {
            "key": "p1_awaiting_resource",
            "count": 1,
            "lost_bed_days": lost,
            "delayed_days_home_based": 0,
        }
    ]
    assert stack.get("/v1/anomalies").json() == []

    # Restart the worker: state comes back from the changelog; nothing is counted twice.
    assert stack.processes["worker"].stop() == 0
    stack.start_worker()
    # Patient 1 leaves the ward for reablement: only a recovered journey knows the admission.
    rr8.send(
        "RR8",
        "discharge",
        "lth-wards",
        timedelta(minutes=5),
        1,
        destination="usual_residence_with_support",
        pathway="P1",
    )
    lcc.send(
        "LCC",
        "admission",
        "lcc-reablement",
        timedelta(minutes=4),
        1,
        admission_method="start_of_care",
        care_hours_per_week=12,
    )
    stack.wait_until(
        lambda: (
            current(stack, "lcc-reablement", "in_service") == 1
            and current(stack, "lth-wards", "in_service") == 1
        ),
        timeout=120,
        what="the restarted worker to apply both new events",
    )
    after = {key: current(stack, *key) for key in expected}
    assert after == {
        **expected,
        ("lth-wards", "in_service"): 1,
        ("lth-wards", "delayed_count"): 0,
        ("lth-wards", "lost_bed_days"): 0,
        ("lcc-reablement", "queue_length"): 0,
    }
    assert stack.get("/v1/anomalies").json() == [], "the discharge found its admission"
    ward_week = service(stack, "lth-wards")["this_week"]
    if ward_week["discharges"]:  # unless Monday midnight fell in the last few minutes
        assert ward_week["discharges"] == 1
        # Admitted 4 days ago: 4 midnights, 3 of them after the discharge ready date.
        assert ward_week["los_days_mean"] == midnights(
            (now - days(4)).isoformat(), now - timedelta(minutes=5)
        )
        assert ward_week["nctr_days_mean"] == midnights(
            (now - days(3)).isoformat(), now - timedelta(minutes=5)
        )
    assert stack.get("/v1/pressure").json()["system"]["queue_length"] == 1
    # Daily rows: one for every day from the ward's first event (patient 1's admission) to
    # today, quiet days included; their period lost bed days add up to patient 1's delay.
    first = (now - days(4)).astimezone(LONDON).date()
    delay_days = midnights((now - days(3)).isoformat(), now - timedelta(minutes=5))

    def ward_days_complete() -> bool:
        rows = stack.get("/v1/services/lth-wards/daily?days=10").json()["days"]
        today = datetime.now(UTC).astimezone(LONDON).date()
        every_day = [(first + days(n)).isoformat() for n in range((today - first).days + 1)]
        return [row["day"] for row in rows] == every_day and (
            sum(row["period_lost_bed_days"] for row in rows) == delay_days
        )

    stack.wait_until(ward_days_complete, timeout=60, what="a daily row for every day")
    topics = [*(stack.settings.ingest_topic(org) for org in SOURCE), stack.settings.events_topic]
    stack.wait_until(
        lambda: all(stack.worker_metric("flowsight_consumer_lag", topic=t) == 0 for t in topics),
        timeout=60,
        what="the restarted worker to commit everything it read (consumer lag 0)",
    )
