"""A service's queue as its kind has it (SPEC, "queue means"), the same in every answer.

A front door's queue is the patients in the department; a transfer-of-care hub's its open
assessments; any other service's the referrals waiting for it. `GET /v1/pressure`, the queue's
counts for a viewer, its entries for the caseload role and the service's own figures agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from tests.adapters.readmodel.model import Feed
from tests.api.read_model_api import api_over, bearer

VIEWER_KEY, VIEWER_ENTRY = new_api_key("wall-screen", ["viewer"])
CASELOAD_KEY, CASELOAD_ENTRY = new_api_key("bed-manager", ["viewer", "caseload"])
NOW = datetime.now(UTC).replace(microsecond=0)


def a_morning() -> Feed:
    """Two patients in the department (one since five hours), one gone home; a ward patient
    the hub has opened two assessments for, referred to reablement as well."""
    feed = Feed()
    for patient, hours in ((1, 5), (2, 1)):
        arrived = NOW - timedelta(hours=hours)
        feed.publish("attendance", "lth-ed", arrived, patient, arrived_at=arrived.isoformat())
    gone = NOW - timedelta(hours=3)
    feed.publish(
        "attendance",
        "lth-ed",
        gone,
        3,
        arrived_at=gone.isoformat(),
        departed_at=(gone + timedelta(hours=1)).isoformat(),
        outcome="discharged",
    )
    for kind, hours in (("care_act", 30), ("chc", 20)):
        feed.publish(
            "assessment", "lth-toc-hub", NOW - timedelta(hours=hours), 4, kind=kind, status="open"
        )
    referral = {"to_service": "lcc-reablement", "status": "new", "pathway": "P1"}
    feed.publish("referral", "lth-wards", NOW - timedelta(hours=10), 4, **referral)
    return feed


def minutes_since(hours: int) -> float:
    """Minutes from `hours` before `NOW` (when the feed was made) to this moment."""
    return hours * 60 + (datetime.now(UTC) - NOW).total_seconds() / 60


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api_over(tmp_path, a_morning().events, VIEWER_ENTRY, CASELOAD_ENTRY) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("service", "joined_by", "length", "longest_hours"),
    [("lth-ed", "arrival", 2, 5), ("lth-toc-hub", "assessment", 2, 30)],
)
def test_the_department_and_the_hub_list_the_queue_their_figures_count(
    client: TestClient, service: str, joined_by: str, length: int, longest_hours: int
) -> None:
    pressure = client.get("/v1/pressure", headers=bearer(VIEWER_KEY)).json()
    scored = next(s for s in pressure["services"] if s["id"] == service)
    counts = client.get(f"/v1/services/{service}/queue", headers=bearer(VIEWER_KEY)).json()
    listed = client.get(f"/v1/services/{service}/queue", headers=bearer(CASELOAD_KEY)).json()
    figures = client.get(f"/v1/services/{service}", headers=bearer(VIEWER_KEY)).json()

    assert scored["queue_length"] == counts["length"] == listed["length"] == length
    assert figures["current"]["queue_length"] == length
    assert counts["entries"] is None
    entries = listed["entries"]
    assert [entry["joined_by"] for entry in entries] == [joined_by] * length
    waits = [entry["waiting_minutes"] for entry in entries]
    assert waits == sorted(waits, reverse=True), "longest wait first"
    # Within a minute: the longest wait is the earliest arrival or opening.
    assert abs(listed["longest_wait_minutes"] - minutes_since(longest_hours)) < 1
    assert abs(counts["longest_wait_minutes"] - minutes_since(longest_hours)) < 1


def test_the_hub_s_entries_name_the_assessment_and_the_department_s_no_referrer(
    client: TestClient,
) -> None:
    hub = client.get("/v1/services/lth-toc-hub/queue", headers=bearer(CASELOAD_KEY)).json()
    ed = client.get("/v1/services/lth-ed/queue", headers=bearer(CASELOAD_KEY)).json()

    assert [entry["assessment_kind"] for entry in hub["entries"]] == ["care_act", "chc"]
    assert {entry["referring_service"] for entry in ed["entries"]} == {None}


def test_any_other_service_lists_the_referrals_waiting_for_it(client: TestClient) -> None:
    listed = client.get("/v1/services/lcc-reablement/queue", headers=bearer(CASELOAD_KEY)).json()

    (entry,) = listed["entries"]
    assert entry["joined_by"] == "referral"
    assert (entry["referring_service"], entry["pathway"]) == ("lth-wards", "P1")
    assert entry["assessment_kind"] is None


def test_the_department_s_caseload_is_who_is_in_it_now_longest_first(client: TestClient) -> None:
    body = client.get("/v1/services/lth-ed/caseload", headers=bearer(CASELOAD_KEY)).json()
    queue = client.get("/v1/services/lth-ed/queue", headers=bearer(CASELOAD_KEY)).json()

    assert body["total"] == 2, "the patient gone home is not in it"
    assert [p["status"] for p in body["patients"]] == ["in_department"] * 2
    assert [p["pseudonym"] for p in body["patients"]] == [e["pseudonym"] for e in queue["entries"]]
    longest = body["patients"][0]
    assert abs(longest["waiting_minutes"] - minutes_since(5)) < 1
    assert longest["length_of_stay_days"] is None
