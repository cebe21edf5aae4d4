"""Residents delayed are people: a patient delayed in two services at once (a community bed
kept while they are in hospital, neither discharged) is one resident delayed in the system's
figures, and one delay in each service's."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.delays import residents_delayed
from flowsight.services.facts import LONDON, Delay
from flowsight.services.report import iso_week
from tests.adapters.readmodel.model import Feed, midnight
from tests.api.read_model_api import api_settings, filled

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer"])


def in_two_beds(now: datetime) -> Feed:
    today = now.astimezone(LONDON).date()

    def at(days_ago: int, hour: int) -> datetime:
        return midnight(today - timedelta(days=days_ago)) + timedelta(hours=hour)

    feed = Feed()
    # Patient 0: in a community bed, ready to go home four days ago; taken into hospital two
    # days ago without a discharge from the community bed, and ready to leave hospital since.
    feed.publish("admission", "lch-community-beds", at(10, 9), 0, admission_method="transfer_in")
    feed.ready("lch-community-beds", at(4, 10), 0, at(4, 10), pathway="P2")
    feed.publish("admission", "lth-wards", at(2, 9), 0, admission_method="emergency")
    feed.ready("lth-wards", at(1, 10), 0, at(1, 10), pathway="P2")
    # Patient 1: on the ward, ready since yesterday.
    feed.publish("admission", "lth-wards", at(5, 9), 1, admission_method="emergency")
    feed.ready("lth-wards", at(1, 11), 1, at(1, 11), pathway="P1")
    return feed


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("residents-delayed")
    settings = api_settings(filled(path, in_two_beds(now).events), path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as test_client:
        yield test_client


def test_a_patient_delayed_in_two_services_is_one_resident_delayed(
    client: TestClient, now: datetime
) -> None:
    body = client.get("/v1/delays").json()
    assert body["count"] == 2, "two people, three delays"
    assert {g["key"]: g["count"] for g in body["by_service"]} == {
        "lch-community-beds": 1,
        "lth-wards": 2,
    }
    week = iso_week(now)
    rows = csv.DictReader(
        io.StringIO(client.get(f"/v1/reports/weekly?week={week}&format=csv").text)
    )
    system = {
        r["figure"]: r["value"]
        for r in rows
        if r["service"] == "system" and r["weeks_before"] == "0"
    }
    assert system["delayed_count"] == "2"


def test_delays_of_no_known_person_are_each_one() -> None:
    # The fold's own delays carry no pseudonym: each is counted, as before.
    delays = [
        Delay("lth-wards", "2026-11-01T10:00:00Z"),
        Delay("lth-wards", "2026-11-02T10:00:00Z"),
    ]
    assert residents_delayed(delays) == 2
    same = [Delay("a", "x", pseudonym="p1"), Delay("b", "y", pseudonym="p1")]
    assert residents_delayed(same) == 1
