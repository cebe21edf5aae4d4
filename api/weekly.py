"""The weekly report as people and spreadsheets read it: gathered from the read model, then
rendered as printable HTML with inline SVG charts, or as CSV. Shared by `GET
/v1/reports/weekly` and `flowsight report weekly`; the figures themselves come from
`services/report.py`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncConnection

from flowsight.adapters.readmodel import facts, pressure, store
from flowsight.api.charts import LEVEL_COLOURS, NOT_SCORED_COLOUR, level_bar, week_bars
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.facts import LONDON
from flowsight.services.kpis import Period
from flowsight.services.report import (
    ScopePressure,
    WeekFigures,
    WeeklyReport,
    period_moment,
    week_figures,
    week_period,
    week_pressure,
    weekly_report,
    weeks_before,
)

#: The system's figures, in the order the summary shows them.
SYSTEM_LAYOUT: tuple[tuple[str, str], ...] = (
    ("delayed_count", "Residents delayed across the system"),
    ("lost_bed_days", "Lost bed days of current delays (in beds)"),
    ("period_lost_bed_days", "Lost bed days this week (every midnight delayed, in beds)"),
    ("hidden_delays", "Hidden delays (ready to move on, outside beds)"),
    ("delayed_days_home_based", "Days delayed at home of current hidden delays (no bed)"),
    ("period_delayed_days_home_based", "Days delayed at home this week (hidden delays, no bed)"),
    ("long_term_in_care", "Long-term care placements and packages open"),
    ("long_term_started", "Long-term placements and packages started this week"),
    ("long_term_placements_started", "of which care-home placements"),
    ("long_term_packages_started", "of which home-care packages"),
)
SYSTEM = "system"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


async def gather_weekly_report(
    connection: AsyncConnection, catalogue: Catalogue, week: str, now: datetime
) -> WeeklyReport:
    """The report of `week` with the weeks it is compared with and its pressure section."""
    weeks = [*weeks_before(week), week]
    first, _ = week_period(weeks[0])
    start, end = week_period(week)
    services = catalogue.services
    service_facts = await facts.services_facts(connection, {s.id: first for s in services})

    async def capacity_of(name: str) -> dict[str, int | None]:
        # Occupancy of each week takes the capacity report in force at its moment.
        moment = period_moment(Period(*week_period(name)), now)
        return dict(await store.capacities_in_force(connection, moment))

    earlier: list[WeekFigures] = [
        week_figures(name, services, service_facts, now, await capacity_of(name))
        for name in weeks[:-1]
    ]
    changes = await pressure.level_changes(connection, until=end)
    runs = await pressure.scored_runs(connection, start, min(end, now))
    scored = await pressure.scored_scopes(connection)
    scopes = [SYSTEM, *(s.id for s in services)]
    levels = [
        week_pressure(scope, changes, runs, start, end, now) for scope in scopes if scope in scored
    ]
    return weekly_report(
        week, services, service_facts, now, await capacity_of(week), earlier, levels
    )


@dataclass(frozen=True)
class ComparedFigure:
    """One figure of the report: its value in each week shown (oldest first, this week last)."""

    service: str
    section: str
    figure: str
    label: str
    values: list[float | int | None]
    change: float | None
    #: For each week, whether its value is provisional (`ReportLine.provisional`).
    provisional: list[bool]

    @property
    def provisional_shown(self) -> bool:
        """Whether a value shown is provisional (an empty one has nothing to mark)."""
        return any(p and v is not None for p, v in zip(self.provisional, self.values, strict=True))


def compared(report: WeeklyReport) -> list[ComparedFigure]:
    """Every figure shown, the system's first, with its values over the weeks compared."""
    weeks: list[WeekFigures | WeeklyReport] = [*report.earlier, report]

    rows = [
        _compared(SYSTEM, SYSTEM, name, label, [w.system.get(name) for w in weeks])
        for name, label in SYSTEM_LAYOUT
    ]
    by_week = [{(line.service, line.figure): line for line in w.lines} for w in weeks]
    for line in report.lines:
        found = [lines.get((line.service, line.figure)) for lines in by_week]
        rows.append(
            _compared(
                line.service,
                line.section,
                line.figure,
                line.label,
                [None if f is None else f.value for f in found],
                [f is not None and f.provisional for f in found],
            )
        )
    return rows


def _compared(
    service: str,
    section: str,
    figure: str,
    label: str,
    values: list[float | int | None],
    provisional: list[bool] | None = None,
) -> ComparedFigure:
    now, before = values[-1], values[-2] if len(values) > 1 else None
    change = None if now is None or before is None else round(now - before, 2)
    marks = provisional or [False] * len(values)
    return ComparedFigure(service, section, figure, label, values, change, marks)


def weeks_shown(report: WeeklyReport) -> list[str]:
    """The ISO weeks the report shows, oldest first."""
    return [*(w.week for w in report.earlier), report.week]


def report_csv(report: WeeklyReport) -> str:
    """One row per week, scope and figure (oldest week first), then the pressure section;
    `provisional` is "yes" on a value that may still rise (a readmission rate whose 30-day
    follow-up has not ended)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["week", "service", "section", "figure", "label", "value", "weeks_before", "provisional"]
    )
    weeks = weeks_shown(report)
    rows = compared(report)
    for position, week in enumerate(weeks):
        for row in rows:
            writer.writerow(
                [
                    week,
                    row.service,
                    row.section,
                    row.figure,
                    row.label,
                    row.values[position],
                    len(weeks) - 1 - position,
                    "yes" if row.provisional[position] else "",
                ]
            )
    for scope in report.pressure:
        for name, label, value in pressure_figures(scope):
            writer.writerow([report.week, scope.scope, "pressure", name, label, value, 0, ""])
    return buffer.getvalue()


def pressure_figures(scope: ScopePressure) -> list[tuple[str, str, float | int | None]]:
    """A scope's pressure figures as the CSV lists them: (figure, label, value); an empty
    level is one not scored at that moment."""
    levels = sorted(scope.hours_at_level)
    return [
        *((f"hours_at_opel_{n}", f"Hours at OPEL {n}", scope.hours_at_level[n]) for n in levels),
        ("hours_not_scored", "Hours not scored (no level known)", scope.hours_not_scored),
        *(
            (f"share_opel_{n}_pct", f"Share of the week at OPEL {n} (%)", scope.share_at_level[n])
            for n in levels
        ),
        ("share_not_scored_pct", "Share of the week not scored (%)", scope.share_not_scored),
        ("escalations", "Escalations", scope.escalations),
        ("de_escalations", "De-escalations", scope.de_escalations),
        ("level_at_start", "Level at the week's start (empty: not scored)", scope.level_at_start),
        ("level_at_end", "Level at its end or now (empty: not scored)", scope.level_at_end),
    ]


def report_html(report: WeeklyReport, catalogue: Catalogue) -> str:
    """The printable page: system summary, one section per service, then pressure."""
    weeks = weeks_shown(report)
    rows = compared(report)
    by_service: dict[str, list[ComparedFigure]] = {}
    for row in rows:
        by_service.setdefault(row.service, []).append(row)
    names = {s.id: s.name for s in catalogue.services} | {SYSTEM: "System"}
    return _templates.get_template("weekly.html").render(
        report=report,
        weeks=weeks,
        short_weeks=[w.split("-")[1] for w in weeks],
        services=catalogue.services,
        by_service=by_service,
        names=names,
        system_name=catalogue.system,
        one_day=timedelta(days=1),
        london=LONDON,  # a finished week's moment is London's, the running week's UTC: shown alike
        running=report.as_of < period_moment(Period(report.start, report.end), report.end),
        week_bars=week_bars,
        level_bar=level_bar,
        level_colours=LEVEL_COLOURS,
        not_scored_colour=NOT_SCORED_COLOUR,
    )
