"""The delays by band read as bands do, shortest first (a bed manager scans them up the scale),
whichever band loses the most days; the other groupings put the most days lost first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.facts import LONDON
from tests.adapters.readmodel.model import Feed, midnight
from tests.api.read_model_api import api_settings, filled

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer"])

#: Days each patient on the ward has been ready to go: a 21+ delay loses the most days, three
#: short ones together more than a 7+ one.
READY_DAYS_AGO = (22, 15, 8, 3, 3, 3)


def ward_delays(now: datetime) -> Feed:
    today = now.astimezone(LONDON).date()

    def at(days_ago: int, hour: int) -> datetime:
        return midnight(today - timedelta(days=days_ago)) + timedelta(hours=hour)

    feed = Feed()
    for patient, ready in enumerate(READY_DAYS_AGO):
        feed.publish("admission", "lth-wards", at(30, 9), patient, admission_method="emergency")
        feed.ready("lth-wards", at(ready, 10), patient, at(ready, 10), pathway=f"P{patient % 3}")
    return feed


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("delay-bands")
    url = filled(path, ward_delays(datetime.now(UTC)).events)
    settings = api_settings(url, path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as test_client:
        yield test_client


def test_delays_by_band_come_shortest_band_first(client: TestClient) -> None:
    body = client.get("/v1/delays").json()
    bands = [(group["key"], group["count"], group["lost_bed_days"]) for group in body["by_band"]]
    assert bands == [("under 7", 3, 9), ("7 to 13", 1, 8), ("14 to 20", 1, 15), ("21+", 1, 22)]


def test_other_groupings_put_the_most_days_lost_first(client: TestClient) -> None:
    body = client.get("/v1/delays").json()
    lost = [group["lost_bed_days"] for group in body["by_pathway"]]
    assert lost == sorted(lost, reverse=True) and len(lost) == 3
