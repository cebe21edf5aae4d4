"""Figures a bed manager signs off, through the HTTP API on a read model the real sink and
refresh filled: daily rows with the period's lost bed days, the weekly report, delayed patients
listed by the counts' rule, the hub's queue and the system's acute level."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.facts import LONDON
from flowsight.services.kpis import Figures
from flowsight.services.pressure import Cutoffs
from flowsight.services.report import iso_week
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel, midnight
from tests.api.read_model_api import api_settings

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer", "caseload"])
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
#: Monday of the week reported on: two weeks before this one.
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 14)


def at(day: int, hour: int) -> datetime:
    """`hour`:00 (Europe/London), `day` days after the reported week's Monday."""
    return midnight(MONDAY + timedelta(days=day)) + timedelta(hours=hour)


def a_week_of_delays() -> Feed:
    """A delay that ends inside the week, one that starts in it, and one not yet due."""
    feed = Feed()
    # Patient 0: in from Friday before; ready Saturday 14:00; home on Wednesday 11:00.
    feed.publish("admission", "lth-wards", at(-3, 10), 0, admission_method="emergency")
    feed.ready("lth-wards", at(-2, 15), 0, at(-2, 14))
    feed.publish("discharge", "lth-wards", at(2, 11), 0, destination="usual_residence")
    # Patient 1: in from Thursday; ready Friday 08:00; still in a bed.
    feed.publish("admission", "lth-wards", at(3, 10), 1, admission_method="emergency")
    feed.ready("lth-wards", at(4, 9), 1, at(4, 8))
    # Patient 2: in since yesterday; the ward expects them ready in two days.
    feed.publish("admission", "lth-wards", NOW - timedelta(days=1), 2, admission_method="emergency")
    feed.ready("lth-wards", NOW - timedelta(hours=1), 2, NOW + timedelta(days=2))
    # The transfer-of-care hub: two referrals, three open assessments (one patient needs two).
    for patient in (3, 4):
        feed.publish(
            "referral",
            "lth-wards",
            NOW - timedelta(hours=5),
            patient,
            to_service="lth-toc-hub",
            status="new",
        )
    for patient, kind in ((3, "care_act"), (3, "chc"), (5, "care_act")):
        feed.publish(
            "assessment", "lth-toc-hub", NOW - timedelta(hours=4), patient, kind=kind, status="open"
        )
    # The emergency department: two still in it (one for 5 hours), one gone home.
    feed.visit("lth-ed", 6, NOW - timedelta(hours=5))
    feed.visit("lth-ed", 7, NOW - timedelta(hours=1))
    feed.visit("lth-ed", 8, NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    return feed


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    async def fill() -> str:
        model = await ReadModel.open(tmp_path / "read-model.db")
        await model.fold(a_week_of_delays().events)
        await model.refresh(NOW, whole_history=True)
        # An acute crisis: ED and wards at OPEL 4, the six other services at 1.
        figures: dict[str, Figures] = {
            "lth-ed": {"queue_length": 130, "four_hour_breach_pct": 50.0, "departures": 20},
            "lth-wards": {"occupancy_pct": 99.0, "delayed_count": 260},
        }
        policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])
        others: dict[str, Figures] = {
            s.id: {"queue_length": 0} for s in CATALOGUE.services if s.id not in figures
        }
        await assess_pressure(model.engine, CATALOGUE, {**others, **figures}, policy, NOW)
        await model.close()
        return model.url

    url = asyncio.run(fill())
    settings = api_settings(url, tmp_path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as test_client:
        yield test_client


def test_daily_rows_have_no_holes_and_carry_the_days_lost_bed_days(client: TestClient) -> None:
    body = client.get("/v1/services/lth-wards/daily?days=60").json()
    days = [row["day"] for row in body["days"]]
    first = MONDAY - timedelta(days=3)
    assert days == [
        (first + timedelta(days=n)).isoformat() for n in range((TODAY - first).days + 1)
    ]
    week = {row["day"]: row for row in body["days"]}
    per_day = [week[(MONDAY + timedelta(days=n)).isoformat()] for n in range(7)]
    # Midnights with a delay running: patient 0 on Mon, Tue, Wed (gone Wed 11:00);
    # patient 1 (ready Fri 08:00) on Sat and Sun.
    assert [row["period_lost_bed_days"] for row in per_day] == [1, 1, 1, 0, 0, 1, 1]
    assert per_day[6]["lost_bed_days"] == 2, "current delays at Sunday's end: patient 1's 2"
    # Monday: patient 0 ready since Saturday: the midnights of Sunday and Monday.
    assert (per_day[0]["delayed_count"], per_day[0]["lost_bed_days"]) == (1, 2)
    # New figures are carried too: long stays, publication bands, queues by pathway.
    assert per_day[6]["delayed_days_2_3"] == 1 and per_day[6]["long_stay_7_plus"] == 0
    assert per_day[6]["queue_p1"] == 0


def test_daily_rows_say_from_which_day_readmission_rates_may_still_rise(client: TestClient) -> None:
    body = client.get("/v1/services/lth-wards/daily?days=60").json()
    # A day's readmissions count for 30 days from it: day 29 before today is the oldest whose
    # window has not ended (a discharge that day may be readmitted today).
    assert body["provisional_from"] == (TODAY - timedelta(days=29)).isoformat()
    assert body["provisional_figures"] == ["readmitted_30d_pct"]


def test_the_weekly_report_counts_every_midnight_of_the_week_ended_or_not(
    client: TestClient,
) -> None:
    week = iso_week(midnight(MONDAY))
    response = client.get(f"/v1/reports/weekly?week={week}&format=csv")
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    ward = {r["figure"]: r["value"] for r in rows if r["service"] == "lth-wards"}
    system = {r["figure"]: r["value"] for r in rows if r["service"] == "system"}
    # 3 midnights of patient 0 (ended Wednesday) + 2 of patient 1 = 5; a snapshot at the
    # week's end sees only patient 1's 2.
    assert (ward["period_lost_bed_days"], ward["lost_bed_days"]) == ("5", "2")
    assert (system["period_lost_bed_days"], system["lost_bed_days"]) == ("5", "2")
    assert {"hidden_delays", "long_term_placements_started", "long_term_packages_started"} <= set(
        system
    )
    html = client.get(f"/v1/reports/weekly?week={week}").text
    assert "Lost bed days this week" in html
    # The running week's moment was shown in UTC, a finished week's in London time.
    running = client.get(f"/v1/reports/weekly?week={iso_week(datetime.now(UTC))}").text
    as_of = running.split("figures as of", 1)[1].split("·", 1)[0]
    assert as_of.strip().endswith(("GMT", "BST")), as_of
    # Its figures are a part-week's, compared with whole weeks: the page says so.
    assert "the week is not over" in running and " so far</th>" in running
    assert "the week is not over" not in html and " so far</th>" not in html


def test_delayed_patients_are_listed_by_the_rule_the_counts_use(client: TestClient) -> None:
    listed = client.get("/v1/delays/patients").json()
    counted = client.get("/v1/delays").json()
    # Patient 2's Discharge Ready Date is two days away: not a delay yet, in lists or counts.
    assert listed["total"] == counted["count"] == 1
    assert [p["days"] for p in listed["patients"]] == [counted["lost_bed_days"]]


def test_the_departments_queue_in_pressure_is_who_is_in_the_department(
    client: TestClient,
) -> None:
    # As the department's figures count it (and its pressure is scored on): before, the answer
    # counted referrals to the department, 0, beside figures saying 2 patients waited there.
    since_now = (datetime.now(UTC) - NOW).total_seconds() / 60
    ed = next(s for s in client.get("/v1/pressure").json()["services"] if s["id"] == "lth-ed")
    figures = client.get("/v1/services/lth-ed").json()

    assert ed["queue_length"] == figures["current"]["queue_length"] == 2
    assert 299.95 <= ed["longest_wait_minutes"] - since_now < 305, "the first arrived 5 h ago"


def test_the_hubs_queue_is_its_open_assessments_and_the_system_shows_its_acute_level(
    client: TestClient,
) -> None:
    # The feed is dated from NOW (taken at import); the API measures waits from when it answers,
    # which may be many minutes later when the module runs late in a parallel run.
    since_now = (datetime.now(UTC) - NOW).total_seconds() / 60
    body = client.get("/v1/pressure").json()
    hub = next(s for s in body["services"] if s["id"] == "lth-toc-hub")
    assert hub["queue_length"] == 3, "3 open assessments, not 2 referrals"
    # 239.95: the API rounds minutes to one decimal.
    wait = hub["longest_wait_minutes"] - since_now
    assert 239.95 <= wait < 245, "the oldest opened 4 hours ago"
    # Levels 4, 4 and six 1s: a mean of 1.75 is OPEL 2; the acute floor makes it 4.
    system = body["system"]
    assert (system["score"], system["acute_level"], system["level"]) == (1.75, 4, 4)
