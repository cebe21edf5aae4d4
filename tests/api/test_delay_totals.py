"""Lost bed days are one figure wherever they are shown: the delays API, a service's figures,
the weekly report and the dashboard count bed-based services only, and show the days people
wait at home to move on (hidden delays, in services without beds) apart, under their own name."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.facts import LONDON
from flowsight.services.report import iso_week
from tests.adapters.readmodel.model import Feed, midnight
from tests.api.read_model_api import api_settings, filled

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer"])


def a_bed_and_a_home_delay(now: datetime) -> Feed:
    today = now.astimezone(LONDON).date()

    def at(days_ago: int, hour: int) -> datetime:
        """`hour`:00 (Europe/London), `days_ago` days before today."""
        return midnight(today - timedelta(days=days_ago)) + timedelta(hours=hour)

    feed = Feed()
    # Patient 0: on the ward, ready to go since 10:00 three days ago: 3 midnights in a bed.
    feed.publish("admission", "lth-wards", at(10, 9), 0, admission_method="emergency")
    feed.ready("lth-wards", at(3, 10), 0, at(3, 10), pathway="P1")
    # Patient 1: in reablement at home, ready to move on since five days ago: 5 midnights at
    # home, no bed held (a hidden delay).
    feed.publish("admission", "lcc-reablement", at(10, 9), 1, admission_method="start_of_care")
    feed.ready("lcc-reablement", at(5, 10), 1, at(5, 10), pathway="P1")
    return feed


@pytest.fixture(scope="module")
def now() -> datetime:
    """When the feed is built: as the tests read it moments later, not when pytest collected
    them (a run that crossed midnight between the two counted one midnight more)."""
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("delay-totals")
    url = filled(path, a_bed_and_a_home_delay(now).events)
    settings = api_settings(url, path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as test_client:
        yield test_client


def test_the_delays_total_of_lost_bed_days_counts_beds_only(client: TestClient) -> None:
    body = client.get("/v1/delays").json()
    # Two delayed; lost bed days are the ward's 3 (it said 8, the reablement days included).
    assert (body["count"], body["in_beds"], body["hidden_delays"]) == (2, 1, 1)
    assert (body["lost_bed_days"], body["delayed_days_home_based"]) == (3, 5)
    assert body["by_service"] == [
        {"key": "lcc-reablement", "count": 1, "lost_bed_days": 0, "delayed_days_home_based": 5},
        {"key": "lth-wards", "count": 1, "lost_bed_days": 3, "delayed_days_home_based": 0},
    ]
    assert body["by_pathway"] == [
        {"key": "P1", "count": 2, "lost_bed_days": 3, "delayed_days_home_based": 5}
    ]


def test_every_lost_bed_days_total_agrees_with_the_delays_api(
    client: TestClient, now: datetime
) -> None:
    delays = client.get("/v1/delays").json()
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/v1/reports/weekly?week={iso_week(now)}&format=csv").text)
        )
    )
    this_week = [r for r in rows if r["weeks_before"] == "0"]
    system = {r["figure"]: r["value"] for r in this_week if r["service"] == "system"}
    assert system["lost_bed_days"] == str(delays["lost_bed_days"]) == "3"
    assert system["delayed_days_home_based"] == str(delays["delayed_days_home_based"]) == "5"
    reablement = {r["figure"]: r["value"] for r in this_week if r["service"] == "lcc-reablement"}
    assert reablement["delayed_days_home_based"] == "5"
    assert "lost_bed_days" not in reablement
    ward = client.get("/v1/services/lth-wards").json()["current"]
    home = client.get("/v1/services/lcc-reablement").json()["current"]
    assert ward["lost_bed_days"] == 3 and "delayed_days_home_based" not in ward
    assert home["delayed_days_home_based"] == 5 and "lost_bed_days" not in home


def test_the_dashboard_shows_the_days_delayed_at_home_apart(client: TestClient) -> None:
    page = client.get("/").text
    script = client.get("/assets/js/dashboard.js").text
    assert 'id="system-home-days"' in page
    # The sitreps' count is of patients in beds: the people at home are a figure of their own
    # (it read "Delayed (no criteria to reside) 2" for one ward patient and one at home).
    assert "Delayed in a bed (no criteria to reside)" in page
    assert '$("system-delayed").textContent = delays.in_beds' in script
    assert '$("system-home-delayed").textContent = delays.count - delays.in_beds' in script
    assert "delays.delayed_days_home_based" in script
    assert "g.delayed_days_home_based" in script
