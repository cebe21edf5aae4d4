"""A readmission rate of a week whose 30-day follow-up has not ended is marked provisional in
the weekly report (HTML and CSV); one whose follow-up has ended is not.

A community bed discharges one patient home in the oldest week shown (nine weeks ago: its
follow-up is over) and one last week, who comes back to hospital as an emergency two days later
(its follow-up runs on for weeks)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.facts import LONDON
from flowsight.services.report import iso_week
from tests.adapters.readmodel.model import Feed, ReadModel, midnight
from tests.api.read_model_api import api_settings

KEY, KEY_ENTRY = new_api_key("head-of-service", ["viewer"])
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)
WEEK = iso_week(midnight(MONDAY))


def stays(feed: Feed, patient: int, monday: datetime, readmitted: bool) -> None:
    feed.publish(
        "admission",
        "lch-community-beds",
        monday + timedelta(hours=10),
        patient,
        admission_method="start_of_care",
    )
    feed.publish(
        "discharge",
        "lch-community-beds",
        monday + timedelta(days=2, hours=11),
        patient,
        destination="usual_residence",
    )
    if readmitted:
        feed.publish(
            "admission",
            "lth-wards",
            monday + timedelta(days=4, hours=3),
            patient,
            admission_method="emergency",
        )


def test_a_readmission_rate_still_in_its_follow_up_is_marked_provisional(tmp_path: Path) -> None:
    feed = Feed()
    stays(feed, 1, midnight(MONDAY - timedelta(weeks=8)), readmitted=False)
    stays(feed, 2, midnight(MONDAY), readmitted=True)

    async def fill() -> str:
        model = await ReadModel.open(tmp_path / "read-model.db")
        await model.fold(feed.events)
        await model.close()
        return model.url

    settings = api_settings(asyncio.run(fill()), tmp_path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as client:
        text = client.get(f"/v1/reports/weekly?week={WEEK}&format=csv").text
        html = client.get(f"/v1/reports/weekly?week={WEEK}").text

    rows = [
        r
        for r in csv.DictReader(io.StringIO(text))
        if (r["service"], r["figure"]) == ("lch-community-beds", "readmitted_30d_pct")
    ]
    assert [r["value"] for r in rows] == ["0.0"] + [""] * 7 + ["100.0"]
    oldest, last = rows[0], rows[-1]
    assert (oldest["provisional"], last["provisional"]) == ("", "yes")
    # Weeks ended less than 30 days ago are provisional even with no discharge to rate.
    assert [r["provisional"] for r in rows[-4:]] == ["yes"] * 4
    other = [r for r in csv.DictReader(io.StringIO(text)) if r["figure"] == "discharges"]
    assert other and not any(r["provisional"] for r in other)

    row = html[html.index('data-service="lch-community-beds" data-figure="readmitted_30d_pct"') :]
    row = row[: row.index("</tr>")]
    assert ">0.0</td>" in row
    assert '100.0 <abbr class="provisional"' in row and row.count("(p)</abbr>") == 1
    assert "(p) provisional: a readmission rate counts the readmissions known so far" in html
