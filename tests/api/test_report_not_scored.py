"""The weekly report's pressure section says which time was not scored, and never counts it as a
level: a worker down for two hours, a service with nothing to score yet and the week before the
first score are 'not scored', not hours at OPEL 1.

The reported week (last week) is scored through the real scoring on its Sunday only: every two
minutes from 18:00 to 20:00 with the emergency department at OPEL 4 and the urgent community
response with no figure to score, then nothing until 22:00 (the worker down), then every two
minutes until midnight with every service calm."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.services.facts import LONDON
from flowsight.services.kpis import Figures
from flowsight.services.pressure import Cutoffs
from flowsight.services.report import iso_week, week_period
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, ReadModel, midnight
from tests.api.read_model_api import api_settings

KEY, KEY_ENTRY = new_api_key("on-call", ["viewer"])
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)
WEEK = iso_week(midnight(MONDAY))
SUNDAY = midnight(MONDAY + timedelta(days=6))
START, END = week_period(WEEK)
WEEK_HOURS = (END - START).total_seconds() / 3600


def sunday(hour: int, minute: int = 0) -> datetime:
    return (SUNDAY + timedelta(hours=hour, minutes=minute)).astimezone(UTC)


def every_two_minutes(first: datetime, last: datetime) -> list[datetime]:
    return [
        first + timedelta(minutes=m) for m in range(0, int((last - first).total_seconds() // 60), 2)
    ]


async def score(model: ReadModel) -> None:
    policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])
    calm: dict[str, Figures] = {s.id: {"queue_length": 0} for s in CATALOGUE.services}
    crowded: dict[str, Figures] = {
        **calm,
        "lth-ed": {"queue_length": 130, "four_hour_breach_pct": 50.0, "departures": 20},
        "lch-ucr": {},  # nothing reported yet: no figure to score
    }
    for moment in every_two_minutes(sunday(18), sunday(20)):
        await assess_pressure(model.engine, CATALOGUE, crowded, policy, moment)
    for moment in every_two_minutes(sunday(22), sunday(24)):
        await assess_pressure(model.engine, CATALOGUE, calm, policy, moment)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("not-scored")

    async def fill() -> str:
        model = await ReadModel.open(path / "read-model.db")
        await score(model)
        await model.close()
        return model.url

    settings = api_settings(asyncio.run(fill()), path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def pressure_rows(client: TestClient) -> dict[str, dict[str, str]]:
    """The CSV's pressure section: scope → figure → value."""
    response = client.get(f"/v1/reports/weekly?week={WEEK}&format=csv")
    assert response.status_code == 200, response.text
    rows: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(response.text)):
        if row["section"] == "pressure":
            rows.setdefault(row["service"], {})[row["figure"]] = row["value"]
    return rows


def test_time_nobody_scored_is_not_counted_at_opel_1(client: TestClient) -> None:
    ed = pressure_rows(client)["lth-ed"]
    # Scored 18:00 to 20:00 (each score stands for three minutes: to 20:01) at OPEL 4, and from
    # 22:00: held at 4 for the hold period, then OPEL 1 from 22:30 to midnight.
    assert float(ed["hours_at_opel_1"]) == 1.5
    assert float(ed["hours_at_opel_4"]) == 2.5
    assert float(ed["hours_at_opel_2"]) == float(ed["hours_at_opel_3"]) == 0
    scored = (sunday(20, 1) - sunday(18)) + (sunday(24) - sunday(22))
    assert float(ed["hours_not_scored"]) == round(WEEK_HOURS - scored.total_seconds() / 3600, 1)
    assert (ed["escalations"], ed["de_escalations"]) == ("1", "1")
    # Nothing was known at the week's start; at its end the department was scored at OPEL 1.
    assert ed["level_at_start"] == "" and ed["level_at_end"] == "1"


def test_a_service_with_nothing_to_score_is_not_scored(client: TestClient) -> None:
    ucr = pressure_rows(client)["lch-ucr"]
    assert float(ucr["hours_at_opel_1"]) == 2.0
    assert float(ucr["hours_not_scored"]) == round(WEEK_HOURS - 2, 1)


def test_shares_are_of_the_whole_week_and_add_up_with_not_scored(client: TestClient) -> None:
    for scope, figures in pressure_rows(client).items():
        hours = [float(figures[f"hours_at_opel_{n}"]) for n in (1, 2, 3, 4)]
        hours.append(float(figures["hours_not_scored"]))
        assert abs(sum(hours) - WEEK_HOURS) < 0.3, scope
        shares = [float(figures[f"share_opel_{n}_pct"]) for n in (1, 2, 3, 4)]
        shares.append(float(figures["share_not_scored_pct"]))
        assert abs(sum(shares) - 100) < 0.3, scope
        assert float(figures["share_not_scored_pct"]) > 97, scope
    ed = pressure_rows(client)["lth-ed"]
    assert float(ed["share_opel_4_pct"]) == round(100 * (151 / 60) / WEEK_HOURS, 1)


class PressureTable(HTMLParser):
    """The printed pressure table: scope → its cells' texts, and its column headings."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.headings: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_pressure = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("class") == "pressure":
            self._in_pressure = True
        elif tag == "tr" and found.get("data-figure") == "pressure":
            self._row = self.rows.setdefault(found["data-service"] or "", [])
        elif tag in ("td", "th") and self._in_pressure:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._row is not None and tag == "td":
                self._row.append(text)
            elif self._row is None:
                self.headings.append(text)
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "section":
            self._in_pressure = False


def test_the_printed_report_shows_not_scored_as_its_own_column(client: TestClient) -> None:
    ed = pressure_rows(client)["lth-ed"]
    table = PressureTable()
    table.feed(client.get(f"/v1/reports/weekly?week={WEEK}").text)
    cells = dict(zip(table.headings[1:], table.rows["lth-ed"], strict=False))
    assert cells["Not scored"] == f"{ed['hours_not_scored']} h ({ed['share_not_scored_pct']} %)"
    assert cells["OPEL 1"] == f"{ed['hours_at_opel_1']} h ({ed['share_opel_1_pct']} %)"
    assert cells["Level at start"] == "not scored" and cells["at end"] == "1"
