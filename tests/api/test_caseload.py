"""A service's caseload through the HTTP API, on a read model the real fold and sink filled:
who is in the ward or waiting for it, their stay, delay and next step; audited; caseload only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from flowsight.adapters.readmodel.tables import audit_log
from flowsight.api.auth import new_api_key
from tests.adapters.readmodel.model import Feed
from tests.api.audit_trail import KEYS_LINE
from tests.api.read_model_api import api_over, bearer

CASELOAD_KEY, CASELOAD_ENTRY = new_api_key("ward-lead", ["viewer", "caseload"])
VIEWER_KEY, VIEWER_ENTRY = new_api_key("wall-screen", ["viewer"])
NOW = datetime.now(UTC)
REVIEWED = "IV antibiotics until Thursday;\nthen review for discharge home"


def a_ward_and_its_hub() -> Feed:
    """Three patients on the wards (one delayed, referred on with a next step), one waiting."""
    feed = Feed()
    for patient, days in ((0, 9), (1, 3), (2, 1)):
        feed.publish(
            "admission",
            "lth-wards",
            NOW - timedelta(days=days),
            patient,
            admission_method="emergency",
        )
    # Patient 0: ready for five days, waiting for reablement; the hub assessed them.
    feed.ready(
        "lth-wards",
        NOW - timedelta(days=5, hours=1),
        0,
        NOW - timedelta(days=5),
        delay_reason="p1_awaiting_resource",
        pathway="P1",
    )
    feed.publish(
        "referral",
        "lth-wards",
        NOW - timedelta(days=4),
        0,
        to_service="lcc-reablement",
        status="new",
        pathway="P1",
        next_step="Reablement start agreed for Monday; family to collect key safe code",
    )
    feed.publish(
        "assessment",
        "lth-toc-hub",
        NOW - timedelta(days=5),
        0,
        kind="care_act",
        status="open",
        next_step="Care Act assessment booked",
    )
    # Patient 1: reviewed yesterday, still meeting the criteria, with the ward's next step.
    feed.publish(
        "assessment",
        "lth-wards",
        NOW - timedelta(days=1),
        1,
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=True,
        next_step=REVIEWED,
    )
    # Patient 3: in the emergency department, referred to the wards.
    feed.publish(
        "referral", "lth-ed", NOW - timedelta(hours=3), 3, to_service="lth-wards", status="new"
    )
    return feed


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    events = a_ward_and_its_hub().events
    with api_over(tmp_path, events, CASELOAD_ENTRY, VIEWER_ENTRY) as test_client:
        yield test_client


def test_the_caseload_lists_everyone_in_the_ward_or_waiting_with_their_next_step(
    client: TestClient, tmp_path: Path
) -> None:
    answer = client.get("/v1/services/lth-wards/caseload", headers=bearer(CASELOAD_KEY))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 4
    patients = body["patients"]
    assert [p["status"] for p in patients] == ["in_service"] * 3 + ["waiting"]
    longest = patients[0]
    assert longest["length_of_stay_days"] in (8, 9, 10)  # midnights, whatever the hour
    assert longest["delay_days"] in (4, 5, 6)
    assert longest["delay_reason"] == "p1_awaiting_resource"
    assert longest["pathway"] == "P1"
    assert [r["to_service"] for r in longest["open_referrals"]] == ["lcc-reablement"]
    assert [a["kind"] for a in longest["open_assessments"]] == ["care_act"]
    # The referral is later than the assessment: its word is the next step.
    assert longest["next_step"].startswith("Reablement start agreed")
    assert longest["next_step_from"] == "referral to lcc-reablement"
    # A criteria-to-reside review's next step, as any assessment's.
    reviewed = patients[1]
    assert (reviewed["next_step"], reviewed["next_step_from"]) == (
        REVIEWED,
        "ctr_review assessment at lth-wards",
    )
    waiting = patients[3]
    assert waiting["length_of_stay_days"] is None and waiting["waiting_minutes"] >= 179
    assert all(set(p["pseudonym"]) <= set("0123456789abcdef") for p in patients)
    assert "nhs_number" not in answer.text
    engine = create_engine(f"sqlite:///{tmp_path / 'read-model.db'}")
    with engine.connect() as connection:
        lines = [
            (row.action, row.detail)
            for row in connection.execute(select(audit_log).where(KEYS_LINE))
        ]
    # Whose records were shown, as the answer listed them: the list changes as patients move.
    assert lines == [("read_caseload", {"patients": [p["pseudonym"] for p in patients]})]
    paged = client.get("/v1/services/lth-wards/caseload?offset=3", headers=bearer(CASELOAD_KEY))
    with engine.connect() as connection:
        last = connection.execute(
            select(audit_log).where(KEYS_LINE).order_by(audit_log.c.id.desc())
        ).first()
    assert last is not None and last.detail == {"patients": [patients[3]["pseudonym"]]}
    assert [p["pseudonym"] for p in paged.json()["patients"]] == last.detail["patients"]


def test_a_viewer_may_not_read_the_caseload_but_sees_the_queue_by_pathway(
    client: TestClient,
) -> None:
    refused = client.get("/v1/services/lth-wards/caseload", headers=bearer(VIEWER_KEY))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    pathways = client.get("/v1/services/lcc-reablement/pathways", headers=bearer(VIEWER_KEY))
    assert pathways.status_code == 200
    assert [(q["pathway"], q["length"]) for q in pathways.json()["pathways"]] == [("P1", 1)]
    assert pathways.json()["pathways"][0]["longest_wait_minutes"] >= 4 * 24 * 60


def test_an_unknown_service_has_no_caseload(client: TestClient) -> None:
    answer = client.get("/v1/services/nowhere/caseload", headers=bearer(CASELOAD_KEY))
    assert answer.status_code == 404


def test_a_read_of_delayed_patients_audits_whom_it_showed(
    client: TestClient, tmp_path: Path
) -> None:
    answer = client.get("/v1/delays/patients", headers=bearer(CASELOAD_KEY))
    assert answer.status_code == 200, answer.text
    shown = [p["pseudonym"] for p in answer.json()["patients"]]
    assert len(shown) == 1  # patient 0, ready for five days

    engine = create_engine(f"sqlite:///{tmp_path / 'read-model.db'}")
    with engine.connect() as connection:
        [line] = connection.execute(select(audit_log).where(KEYS_LINE)).all()
    assert (line.action, line.detail) == ("read_delayed_patients", {"patients": shown})
