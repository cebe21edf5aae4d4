"""The weekly report's figures match the database for every week it shows.

Ten weeks of an emergency department, a ward and an urgent community response team go through
the real fold, sink and refresh; the pressure of the reported week through the real scoring.
Each figure the report shows (HTML and CSV alike) is then compared with what the database holds,
read independently: current figures with the stored daily row of the week's last day, counts
with the sum of the week's daily rows, means and rates with the stored facts."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from statistics import fmean
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from flowsight.adapters.readmodel.alert_tables import alerts
from flowsight.adapters.readmodel.tables import attendances, referrals, service_daily, stays
from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.schemas.codes import CapacityUnit
from flowsight.services.facts import LONDON
from flowsight.services.kpis import CURRENT_FIGURES, Figures
from flowsight.services.pressure import Cutoffs
from flowsight.services.report import iso_week
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, Feed, ReadModel, midnight
from tests.api.read_model_api import api_settings

KEY, KEY_ENTRY = new_api_key("bed-manager", ["viewer"])
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LONDON).date()
#: Monday of the reported week (last week, so every week shown is complete).
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)
#: The weeks shown: the eight before the reported one, then it; 0 is the oldest.
WEEKS = 9
#: Period figures that count things: a week's is the sum of its days'.
COUNTS = frozenset(
    {
        "attendances",
        "referrals",
        "starts",
        "discharges",
        "admissions_from_ed",
        "new_packages",
        "placements_started",
        "nursing_placements",
        "residential_placements",
        "period_lost_bed_days",
        "period_delayed_days_home_based",
    }
)
BEDS = {s.id for s in CATALOGUE.services if s.capacity_unit == CapacityUnit.BEDS}


def monday(week: int) -> date:
    """Monday of week `week` of those shown (8 is the reported one)."""
    return MONDAY - timedelta(weeks=WEEKS - 1 - week)


def at(week: int, day: int, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` (Europe/London) on `day` (0 = Monday) of week `week`."""
    return midnight(monday(week) + timedelta(days=day)) + timedelta(hours=hour, minutes=minute)


def ten_weeks() -> Feed:
    """A week before those shown, then each shown week a little different from the last."""
    feed = Feed()
    patient = iter(range(400))
    for week in range(-1, WEEKS):
        feed.publish("capacity", "lth-wards", at(week, 0, 7), open=20 + week, total=30, unit="beds")
        for i in range(2 + week % 3):
            person = next(patient)
            arrived, stay = at(week, 1, 8 + i), 5 if i == 0 else 2  # the first breaches
            departed = arrived + timedelta(hours=stay)
            outcome = "admitted" if i == 0 else "discharged"
            feed.visit("lth-ed", person, arrived, departed, outcome)
            if outcome != "admitted":
                continue
            feed.publish("admission", "lth-wards", departed, person, admission_method="emergency")
            pathway = "P1" if week % 2 else "P3"
            feed.ready(
                "lth-wards",
                at(week, 3, 11),
                person,
                at(week, 3, 10),
                delay_reason="p1_awaiting_resource",
                pathway=pathway,
            )
            if week < WEEKS - 1:  # the reported week's patient is still in a bed at its end
                home = week % 2 == 1
                feed.publish(
                    "discharge",
                    "lth-wards",
                    at(week + 1, 1 + week % 3, 11),
                    person,
                    destination="usual_residence_with_support" if home else "care_home_residential",
                    pathway=pathway,
                )
        person = next(patient)
        feed.publish(
            "referral", "lth-ed", at(week, 2, 10), person, to_service="lch-ucr", status="new"
        )
        if week % 2 == 0:
            feed.publish(
                "admission", "lch-ucr", at(week, 3, 10), person, admission_method="start_of_care"
            )
            feed.publish(
                "discharge", "lch-ucr", at(week, 4, 16), person, destination="usual_residence"
            )
        else:
            feed.publish(
                "referral",
                "lth-ed",
                at(week, 2, 12),
                person,
                to_service="lch-ucr",
                status="declined",
            )
    return feed


async def score(model: ReadModel) -> None:
    """The ED at OPEL 4 from Tuesday 10:00 of the reported week until Thursday 10:31; every
    scope scored every hour of the week (each score standing for an hour), so none of it is
    'not scored'."""
    policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [], timedelta(hours=1))
    calm: dict[str, Figures] = {s.id: {"queue_length": 0} for s in CATALOGUE.services}
    crowded: dict[str, Figures] = {
        **calm,
        "lth-ed": {"queue_length": 130, "four_hour_breach_pct": 50.0, "departures": 20},
    }
    start, up, down, end = (
        t.astimezone(UTC) for t in (at(8, 0, 0), at(8, 1, 10), at(8, 3, 10), at(8, 7, 0))
    )
    hours = int((end - start).total_seconds() // 3600)
    readings: list[tuple[datetime, dict[str, Figures]]] = [(at(7, 3, 9), calm)]
    for moment in (start + timedelta(hours=n) for n in range(hours)):
        readings.append((moment, crowded if up <= moment < down else calm))
    readings += [(down + timedelta(minutes=31), calm)]
    for moment, figures in sorted(readings, key=lambda reading: reading[0]):
        await assess_pressure(model.engine, CATALOGUE, figures, policy, moment.astimezone(UTC))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    path = tmp_path_factory.mktemp("weeks")

    async def fill() -> str:
        model = await ReadModel.open(path / "read-model.db")
        await model.fold(ten_weeks().events)
        await model.refresh(NOW, whole_history=True)
        await score(model)
        await model.close()
        return model.url

    url = asyncio.run(fill())
    settings = api_settings(url, path, KEY_ENTRY)
    with TestClient(build_api(settings), headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client, url.replace("+aiosqlite", "")


@dataclass
class Stored:
    """What the database holds, read with plain SQL, not through the report's code."""

    daily: dict[tuple[str, date], dict[str, Any]]
    stays: Sequence[Any]
    attendances: Sequence[Any]
    referrals: Sequence[Any]
    alerts: Sequence[Any]


def stored(url: str) -> Stored:
    engine = create_engine(url)
    with engine.connect() as connection:
        daily = {
            (row.service_id, row.day): row.figures
            for row in connection.execute(select(service_daily))
        }
        read = [
            connection.execute(select(table)).all()
            for table in (stays, attendances, referrals, alerts)
        ]
    engine.dispose()
    return Stored(daily, *read)


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(LONDON)


def in_week(text: str | None, week: int) -> bool:
    return text is not None and at(week, 0, 0) <= london(text) < at(week, 7, 0)


def rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def mean(values: list[int]) -> float | None:
    return round(fmean(values), 2) if values else None


def from_facts(db: Stored, service: str, week: int) -> Figures:
    """Means and rates of a week, recomputed from the stored facts by their definitions."""
    if service == "lth-ed":
        left = [a for a in db.attendances if in_week(a.departed_at, week)]
        late = [
            a for a in left if london(a.departed_at) - london(a.arrived_at) > timedelta(hours=4)
        ]
        return {"four_hour_breach_pct": rate(len(late), len(left))}
    ended = [s for s in db.stays if s.service_id == service and in_week(s.ended_at, week)]
    if service == "lth-wards":
        los = [(london(s.ended_at).date() - london(s.started_at).date()).days for s in ended]
        nctr = [s.nctr_days or 0 for s in ended]
        home = {"usual_residence", "usual_residence_with_support"}
        # Pathway shares are of the discharges on a pathway, as NHS England publishes them.
        on_pathway = [s for s in ended if s.pathway in ("P0", "P1", "P2", "P3")]
        figures: Figures = {
            "los_days_mean": mean(los),
            "nctr_days_mean": mean(nctr),
            "ctr_days_mean": mean([t - d for t, d in zip(los, nctr, strict=True)]),
            "complex_discharge_pct": rate(
                sum(s.pathway in ("P1", "P2", "P3") for s in on_pathway), len(on_pathway)
            ),
            "directly_home_pct": rate(sum(s.destination in home for s in ended), len(ended)),
            "pathway_not_recorded_pct": rate(len(ended) - len(on_pathway), len(ended)),
        }
        for pathway in ("P0", "P1", "P2", "P3"):
            share = rate(sum(s.pathway == pathway for s in on_pathway), len(on_pathway))
            figures[f"pathway_{pathway.lower()}_pct"] = share
        return figures
    if service == "lch-ucr":
        decided = [
            r
            for r in db.referrals
            if r.to_service == service
            and (
                in_week(r.decided_at, week)
                or (r.decided_at is None and in_week(r.started_at, week))
            )
        ]
        quiet = [
            s for s in ended if s.destination in ("usual_residence",) and s.pathway in (None, "P0")
        ]
        return {
            "referrals_accepted_pct": rate(
                sum(r.status != "declined" for r in decided), len(decided)
            ),
            "no_further_action_pct": rate(len(quiet), len(ended)),
            "pathway_not_recorded_pct": rate(sum(s.pathway is None for s in ended), len(ended)),
            "los_days_mean": mean(
                [(london(s.ended_at).date() - london(s.started_at).date()).days for s in ended]
            ),
        }
    return {}


def system_from_days(db: Stored, days: list[dict[str, dict[str, Any]]]) -> Figures:
    """The system's figures of a week from its services' daily rows."""
    last = {service: rows[-1] for service, rows in _by_service(days).items()}
    sums = {service: rows for service, rows in _by_service(days).items()}

    def total(name: str, services: set[str]) -> int:
        return sum(sum(row.get(name) or 0 for row in sums.get(s, [])) for s in services)

    packages = total("new_packages", {"lcc-home-care"})
    placements = total("placements_started", {"lcc-care-homes"})
    return {
        "delayed_count": sum(row["delayed_count"] for row in last.values()),
        "lost_bed_days": sum(row["lost_bed_days"] for s, row in last.items() if s in BEDS),
        "period_lost_bed_days": total("period_lost_bed_days", BEDS),
        "delayed_days_home_based": sum(
            row["delayed_days_home_based"] for s, row in last.items() if s not in BEDS
        ),
        "period_delayed_days_home_based": total("period_delayed_days_home_based", set(last) - BEDS),
        "hidden_delays": sum(row["delayed_count"] for s, row in last.items() if s not in BEDS),
        "long_term_in_care": sum(
            last[s]["in_service"] for s in ("lcc-home-care", "lcc-care-homes") if s in last
        ),
        "long_term_started": packages + placements,
        "long_term_placements_started": placements,
        "long_term_packages_started": packages,
    }


def _by_service(days: list[dict[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for day in days:
        for service, row in day.items():
            grouped.setdefault(service, []).append(row)
    return grouped


def week_days(db: Stored, week: int) -> list[dict[str, dict[str, Any]]]:
    """Each day of the week: every service's stored row of that day."""
    days = [monday(week) + timedelta(days=n) for n in range(7)]
    return [{s: row for (s, d), row in db.daily.items() if d == day} for day in days]


def expected(db: Stored, service: str, figure: str, week: int) -> object:
    """What the database says a figure of a week is."""
    days = week_days(db, week)
    if service == "system":
        return system_from_days(db, days)[figure]
    rows = [day[service] for day in days if service in day]
    if not any(service in key for key in db.daily):
        # No fact ever: no daily rows (they start at a service's first fact), nothing to show.
        assert service not in {s.service_id for s in db.stays} | {
            r.to_service for r in db.referrals
        }
        return NOTHING
    assert len(rows) == 7, f"{service} has a stored row for every day of week {week}"
    if figure in CURRENT_FIGURES:
        return rows[-1][figure]
    if figure in COUNTS:
        return sum(row[figure] for row in rows)
    computed = from_facts(db, service, week)
    if figure in computed:
        return computed[figure]
    # A mean or rate this scenario gives no case for: no day of the week has one either.
    assert all(row.get(figure) is None for row in rows), (service, figure, week)
    return None


#: A figure of a service without any fact: zero, or empty where there is nothing to divide by.
NOTHING = object()


def number(text: str) -> object:
    if text in ("", "\u2013"):  # the en dash the page shows for no figure
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


class Cells(HTMLParser):
    """The report's table rows: (service, figure) → the week cells' texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], list[str]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-figure"):
            self._row = self.rows.setdefault(
                (found["data-service"] or "", found["data-figure"] or ""), []
            )
        elif tag == "td" and self._row is not None and "num" in (found.get("class") or ""):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None


def test_every_figure_of_every_week_shown_is_the_databases(built: tuple[TestClient, str]) -> None:
    client, url = built
    week_name = iso_week(midnight(MONDAY))
    response = client.get(f"/v1/reports/weekly?week={week_name}&format=csv")
    assert response.status_code == 200, response.text
    rows = [r for r in csv.DictReader(io.StringIO(response.text)) if r["section"] != "pressure"]
    names = [iso_week(midnight(monday(w))) for w in range(WEEKS)]
    assert sorted({r["week"] for r in rows}) == names
    html = Cells()
    html.feed(client.get(f"/v1/reports/weekly?week={week_name}").text)
    db = stored(url)
    checked = 0
    for row in rows:
        week = names.index(row["week"])
        assert int(row["weeks_before"]) == WEEKS - 1 - week
        truth = expected(db, row["service"], row["figure"], week)
        shown = html.rows[row["service"], row["figure"]][week]
        if truth is NOTHING:
            assert number(row["value"]) in (0, None) and number(shown) in (0, None), row
            continue
        assert number(row["value"]) == truth, (row, truth)
        assert number(shown) == truth, (row["service"], row["figure"], row["week"], shown)
        checked += truth is not None
    services = {r["service"] for r in rows}
    assert services == {"system", *(s.id for s in CATALOGUE.services)}
    # The weeks differ, so the comparison shows change: attendances run 2, 3, 4, 2, ...
    ed = [
        number(r["value"]) for r in rows if (r["service"], r["figure"]) == ("lth-ed", "attendances")
    ]
    assert ed == [2 + w % 3 for w in range(WEEKS)]
    occupancy = [r for r in rows if (r["service"], r["figure"]) == ("lth-wards", "occupancy_pct")]
    assert len({r["value"] for r in occupancy}) > 1, "capacity changed week by week"
    assert checked > 300


def test_the_pressure_section_is_the_alerts_of_the_week(built: tuple[TestClient, str]) -> None:
    client, url = built
    week_name = iso_week(midnight(MONDAY))
    rows = [
        r
        for r in csv.DictReader(
            io.StringIO(client.get(f"/v1/reports/weekly?week={week_name}&format=csv").text)
        )
        if r["section"] == "pressure"
    ]
    assert rows, "the pressure section is in the CSV"
    ed = {r["figure"]: float(r["value"]) for r in rows if r["service"] == "lth-ed"}
    changes = sorted((a for a in stored(url).alerts if a.scope == "lth-ed"), key=lambda a: a.at)
    assert [(a.level_from, a.level_to) for a in changes] == [(1, 4), (4, 1)]
    up, down = (a.at.replace(tzinfo=UTC) for a in changes)
    start, end = at(8, 0, 0), at(8, 7, 0)
    assert ed["hours_at_opel_4"] == round((down - up).total_seconds() / 3600, 1)
    at_one = (up - start) + (end - down)
    assert ed["hours_at_opel_1"] == round(at_one.total_seconds() / 3600, 1)
    assert (ed["escalations"], ed["de_escalations"]) == (1, 1)
    assert ed["hours_not_scored"] == 0 and ed["share_not_scored_pct"] == 0
    week_hours = (end - start).total_seconds() / 3600
    for scope in {r["service"] for r in rows}:
        hours = sum(
            float(r["value"])
            for r in rows
            if r["service"] == scope and r["figure"].startswith("hours")
        )
        assert abs(hours - week_hours) < 0.3, scope
    html = client.get(f"/v1/reports/weekly?week={week_name}").text
    cells = Cells()
    cells.feed(html)
    shown = cells.rows["lth-ed", "pressure"]
    assert [number(c.split(" h ")[0]) for c in shown[:5]] == [
        ed["hours_at_opel_1"],
        0,
        0,
        ed["hours_at_opel_4"],
        0,
    ]
    assert [number(c) for c in shown[5:9]] == [1, 1, 1, 1]


def test_the_report_is_printable_and_draws_without_scripts(built: tuple[TestClient, str]) -> None:
    client, _url = built
    html = client.get(f"/v1/reports/weekly?week={iso_week(midnight(MONDAY))}").text
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "@page { size: A4" in html and "break-before: page" in html
    assert html.index('id="system"') < html.index('id="lth-ed"') < html.index('id="pressure"')
    assert html.count("<svg") > 100 and 'role="img"' in html
