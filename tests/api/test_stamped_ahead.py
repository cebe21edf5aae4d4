"""Events a sender stamps a little ahead of the clock (the validator takes up to five minutes):
nothing counts before its time. A referral stamped four minutes ahead waited -4 minutes in the
queues and the caseload, an admission ahead was in the caseload though not in `in_service`, and
a capacity report ahead set the service's occupancy while the daily figures kept the one in
force (docs/metrics.md: "the latest capacity report made by then")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from tests.adapters.readmodel.model import Feed
from tests.api.read_model_api import api_over, bearer

KEY, ENTRY = new_api_key("ward-lead", ["viewer", "caseload"])


def a_ward_with_events_ahead(now: datetime) -> Feed:
    ahead = now + timedelta(minutes=4)
    feed = Feed()
    feed.publish("capacity", "lth-wards", now - timedelta(hours=2), open=10, unit="beds")
    feed.publish("admission", "lth-wards", now - timedelta(days=2), 0, admission_method="emergency")
    # Stamped four minutes ahead: an admission, a referral on from the ward, a capacity report.
    feed.publish("admission", "lth-wards", ahead, 1, admission_method="emergency")
    feed.publish(
        "referral", "lth-wards", ahead, 0, to_service="lcc-reablement", status="new", pathway="P1"
    )
    feed.publish("capacity", "lth-wards", ahead, open=4, unit="beds")
    return feed


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # Timed when the test runs, not when the module is collected: a suite runs for minutes.
    events = a_ward_with_events_ahead(datetime.now(UTC)).events
    with api_over(tmp_path, events, ENTRY) as test_client:
        yield test_client


def test_a_referral_stamped_ahead_waits_in_no_queue_before_its_time(client: TestClient) -> None:
    queue = client.get("/v1/services/lcc-reablement/queue", headers=bearer(KEY)).json()
    pressure = client.get("/v1/pressure", headers=bearer(KEY)).json()
    caseload = client.get("/v1/services/lcc-reablement/caseload", headers=bearer(KEY)).json()

    reablement = next(s for s in pressure["services"] if s["id"] == "lcc-reablement")
    assert (reablement["queue_length"], reablement["longest_wait_minutes"]) == (0, None)
    assert queue["length"] == 0, queue
    assert caseload["total"] == 0


def test_an_admission_stamped_ahead_is_not_in_the_caseload_before_its_time(
    client: TestClient,
) -> None:
    caseload = client.get("/v1/services/lth-wards/caseload", headers=bearer(KEY)).json()
    detail = client.get("/v1/services/lth-wards", headers=bearer(KEY)).json()

    assert caseload["total"] == detail["current"]["in_service"] == 1


def test_the_occupancy_is_of_the_capacity_report_in_force(client: TestClient) -> None:
    detail = client.get("/v1/services/lth-wards", headers=bearer(KEY)).json()

    # One patient in 10 open beds (the report of two hours ago), not in the 4 reported ahead.
    assert detail["current"]["occupancy_pct"] == 10.0


def test_the_service_says_the_capacity_open_its_occupancy_divides_by(client: TestClient) -> None:
    wards = client.get("/v1/services/lth-wards", headers=bearer(KEY)).json()
    beds = client.get("/v1/services/lch-community-beds", headers=bearer(KEY)).json()

    # The report in force, not the catalogue's 1450 beds (nor the report ahead).
    assert (wards["open_capacity"], wards["open_capacity_reported"]) == (10, True)
    assert wards["service"]["capacity"] == 1450
    # No report yet: the catalogue's capacity is the open capacity, and says so.
    assert (beds["open_capacity"], beds["open_capacity_reported"]) == (
        beds["service"]["capacity"],
        False,
    )
