"""The weekly system report: for each service, queues, efficiency and outcomes of one ISO week.

The three questions come from the system visibility model: is each service meeting demand
(queues), delivering what we expect (efficiency), with the quality we expect (outcomes)?
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flowsight.schemas.catalogue import Service
from flowsight.services.delays import bed_based, delay_days_figure, period_lost_bed_days
from flowsight.services.escalation import LevelChange
from flowsight.services.facts import LONDON, READMISSION_DAYS
from flowsight.services.flow_figures import percent
from flowsight.services.kpis import Figures, Period, ServiceFacts, service_figures, system_figures
from flowsight.services.level_time import ScoredRun, level_time

#: Figures "as of the end of" a period are taken just before it ends.
END_OF_PERIOD = timedelta(microseconds=1)

#: (section, figure, label) in the order the report shows them; a service shows those it has.
LAYOUT: tuple[tuple[str, str, str], ...] = (
    ("queues", "queue_length", "Waiting at the end of the week"),
    ("queues", "longest_wait_hours", "Longest wait (hours)"),
    ("queues", "in_department_over_4h", "In the department over 4 hours"),
    ("queues", "in_department_over_12h", "In the department over 12 hours"),
    ("queues", "open_assessments", "Open assessments"),
    ("queues", "occupancy_pct", "Bed occupancy at the end of the week (%)"),
    ("queues", "delayed_count", "Delayed, no criteria to reside"),
    ("queues", "lost_bed_days", "Lost bed days of current delays"),
    ("queues", "period_lost_bed_days", "Lost bed days this week (every midnight delayed)"),
    ("queues", "delayed_days_home_based", "Days delayed at home of current delays (no bed)"),
    ("queues", "period_delayed_days_home_based", "Days delayed at home this week (no bed)"),
    ("queues", "delayed_21_plus", "Delayed 21 days or more"),
    ("queues", "delayed_days_0", "Still delayed at the end of the week: under a day"),
    ("queues", "delayed_days_1", "Still delayed: 1 day"),
    ("queues", "delayed_days_2_3", "Still delayed: 2-3 days"),
    ("queues", "delayed_days_4_6", "Still delayed: 4-6 days"),
    ("queues", "delayed_days_7_13", "Still delayed: 7-13 days"),
    ("queues", "delayed_days_14_20", "Still delayed: 14-20 days"),
    ("queues", "delayed_days_21_plus", "Still delayed: 21 days or more"),
    ("queues", "long_stay_7_plus", "In a bed 7 days or more"),
    ("queues", "long_stay_14_plus", "In a bed 14 days or more"),
    ("queues", "long_stay_21_plus", "In a bed 21 days or more"),
    ("queues", "queue_p0", "Waiting, pathway 0"),
    ("queues", "queue_p1", "Waiting, pathway 1"),
    ("queues", "queue_p2", "Waiting, pathway 2"),
    ("queues", "queue_p3", "Waiting, pathway 3"),
    ("efficiency", "attendances", "Attendances"),
    ("efficiency", "four_hour_breach_pct", "Four-hour breaches (%)"),
    ("efficiency", "referrals", "Referrals"),
    ("efficiency", "referrals_accepted_pct", "Referrals accepted (%)"),
    ("efficiency", "ucr_2h_met_pct", "2-hour referrals seen within 2 hours (%)"),
    ("efficiency", "starts", "Starts"),
    ("efficiency", "discharges", "Discharges and transfers out"),
    ("efficiency", "los_days_mean", "Length of stay (days)"),
    ("efficiency", "ctr_days_mean", "of which criteria to reside (days)"),
    ("efficiency", "nctr_days_mean", "of which no criteria to reside (days)"),
    ("efficiency", "assessment_hours_mean", "Assessment completion (hours)"),
    ("efficiency", "time_to_source_days_mean", "Time to source (days)"),
    ("outcomes", "admissions_from_ed", "Admissions from the department"),
    ("outcomes", "complex_discharge_pct", "Complex discharges, pathways 1-3 (%)"),
    ("outcomes", "directly_home_pct", "Left hospital directly home (%)"),
    ("outcomes", "pathway_p0_pct", "Left hospital on pathway 0 (%)"),
    ("outcomes", "pathway_p1_pct", "Left hospital on pathway 1 (%)"),
    ("outcomes", "pathway_p2_pct", "Left hospital on pathway 2 (%)"),
    ("outcomes", "pathway_p3_pct", "Left hospital on pathway 3 (%)"),
    ("outcomes", "pathway_not_recorded_pct", "Discharges with no pathway recorded (%)"),
    ("outcomes", "no_further_action_pct", "Discharged with no further action (%)"),
    ("outcomes", "care_hours_change_mean", "Change in care hours a week, start to end"),
    ("outcomes", "independent_pct", "Discharged independent (%)"),
    ("outcomes", "discharged_home_pct", "Discharged home (%)"),
    ("outcomes", "readmitted_30d_pct", "Readmitted within 30 days (%)"),
    ("outcomes", "new_packages", "New packages"),
    ("outcomes", "package_hours_mean", "Average package (hours a week)"),
    ("outcomes", "placements_started", "Placements started"),
    ("outcomes", "nursing_placements", "of which nursing"),
    ("outcomes", "residential_placements", "of which residential"),
)
SECTIONS = ("queues", "efficiency", "outcomes")
#: Figures that count what happens up to 30 days after the week: provisional until then.
FOLLOWED_UP = frozenset({"readmitted_30d_pct"})

#: The report compares its week with this many weeks before it (the seed's "change over time").
WEEKS_COMPARED = 8


@dataclass(frozen=True)
class ReportLine:
    service: str
    section: str
    figure: str
    label: str
    value: float | int | None
    #: Counted before the follow-up window of each of the week's cases has ended: it may rise.
    provisional: bool = False


@dataclass(frozen=True)
class WeekFigures:
    """One week's figures: every service's report lines and the system's figures."""

    week: str
    start: datetime
    end: datetime
    as_of: datetime
    lines: list[ReportLine]
    system: Figures


@dataclass(frozen=True)
class ScopePressure:
    """A scope's OPEL levels over one week: hours and shares of the week at each level and not
    scored, escalations, de-escalations, and its level at the week's start and end (None: not
    scored then)."""

    scope: str
    hours_at_level: dict[int, float]
    hours_not_scored: float
    share_at_level: dict[int, float | None]
    share_not_scored: float | None
    escalations: int
    de_escalations: int
    level_at_start: int | None
    level_at_end: int | None


@dataclass(frozen=True)
class WeeklyReport(WeekFigures):
    """The report of one week: its figures, the weeks it is compared with (oldest first), and
    pressure."""

    earlier: list[WeekFigures] = field(default_factory=list)
    pressure: list[ScopePressure] = field(default_factory=list)


def week_period(week: str) -> tuple[datetime, datetime]:
    """'2026-W47' → Monday 00:00 and the next Monday 00:00, Europe/London."""
    try:
        year, number = week.split("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ValueError(f"week {week!r} is not an ISO week like 2026-W47") from None
    start = datetime.combine(monday, datetime.min.time(), tzinfo=LONDON)
    return start, datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=LONDON)


def weeks_before(week: str, count: int = WEEKS_COMPARED) -> list[str]:
    """The `count` ISO weeks before `week`, oldest first."""
    start, _end = week_period(week)
    return [iso_week(start - timedelta(weeks=n)) for n in range(count, 0, -1)]


def iso_week(moment: datetime) -> str:
    """The ISO week (Europe/London) `moment` falls in, as '2026-W47'."""
    year, number, _ = moment.astimezone(LONDON).isocalendar()
    return f"{year}-W{number:02d}"


def followed_up_by(period: Period) -> datetime:
    """When the 30-day follow-up of a period's last day ends: midnight (Europe/London) after day
    29 from it (`readmission_last_day`, `services/leaving.py`). A readmission rate of the period
    is provisional until then."""
    last_day = (period.end - END_OF_PERIOD).astimezone(LONDON).date()
    return datetime.combine(
        last_day + timedelta(days=READMISSION_DAYS), datetime.min.time(), tzinfo=LONDON
    )


def provisional_from(today: date) -> date:
    """The first day (Europe/London) whose followed-up figures (`FOLLOWED_UP`) may still rise on
    `today`: the day's 30-day follow-up (`followed_up_by`) ends after today."""
    return today - timedelta(days=READMISSION_DAYS - 1)


def period_moment(period: Period, now: datetime) -> datetime:
    """The moment a period's current figures are taken: its end, or `now` while it runs."""
    return min(now, period.end - END_OF_PERIOD)


def figures_of(
    service: Service,
    facts: ServiceFacts,
    period: Period,
    as_of: datetime,
    open_capacity: int | None = None,
) -> Figures:
    """A service's figures for `period` as the API, daily rows and report show them: the
    core's, with the period's lost bed days (in a service without beds, its days delayed at
    home, `period_delayed_days_home_based`)."""
    figures = service_figures(service, facts, period, as_of, open_capacity)
    figures[f"period_{delay_days_figure(service)}"] = period_lost_bed_days(
        facts.delays, period.start, period.end, as_of
    )
    return figures


def system_figures_of(
    services: list[Service], facts: Mapping[str, ServiceFacts], period: Period, as_of: datetime
) -> Figures:
    """The system's figures with the period's lost bed days (bed-based services only) and the
    period's days delayed at home (services without beds)."""
    figures = system_figures(services, dict(facts), period, as_of)
    beds = bed_based(services)
    days = {
        s.id: period_lost_bed_days(facts[s.id].delays, period.start, period.end, as_of)
        for s in services
        if s.id in facts
    }
    figures["period_lost_bed_days"] = sum(n for s, n in days.items() if s in beds)
    figures["period_delayed_days_home_based"] = sum(n for s, n in days.items() if s not in beds)
    return figures


def week_figures(
    week: str,
    services: Sequence[Service],
    facts: Mapping[str, ServiceFacts],
    now: datetime,
    open_capacity: Mapping[str, int | None],
) -> WeekFigures:
    """Every service's report lines and the system's figures of `week` (as of `now` while it
    runs); `open_capacity` is each service's capacity in force at the week's moment."""
    period = Period(*week_period(week))
    as_of = period_moment(period, now)
    followed_up = now >= followed_up_by(period)
    lines = []
    for service in services:
        figures = figures_of(
            service,
            facts.get(service.id, ServiceFacts()),
            period,
            as_of,
            open_capacity.get(service.id),
        )
        lines += [
            ReportLine(
                service.id,
                section,
                name,
                label,
                figures[name],
                name in FOLLOWED_UP and not followed_up,
            )
            for section, name, label in LAYOUT
            if name in figures
        ]
    system = system_figures_of(list(services), facts, period, as_of)
    return WeekFigures(week, period.start, period.end, as_of, lines, system)


def weekly_report(
    week: str,
    services: list[Service],
    facts: Mapping[str, ServiceFacts],
    now: datetime,
    open_capacity: Mapping[str, int | None],
    earlier: Sequence[WeekFigures] = (),
    pressure: Sequence[ScopePressure] = (),
) -> WeeklyReport:
    """The report of `week`: for a week still running, figures as of `now`.

    `open_capacity` is each service's capacity in force at the report's moment
    (`period_moment`); a service without one is taken at its catalogue capacity. `earlier`
    are the weeks it is compared with, `pressure` its scopes' levels over the week.
    """
    this = week_figures(week, services, facts, now, open_capacity)
    return WeeklyReport(
        week,
        this.start,
        this.end,
        this.as_of,
        this.lines,
        this.system,
        list(earlier),
        list(pressure),
    )


def week_pressure(
    scope: str,
    changes: Sequence[LevelChange],
    runs: Iterable[ScoredRun],
    start: datetime,
    end: datetime,
    now: datetime,
) -> ScopePressure:
    """Hours at each OPEL level and not scored in [start, end) (up to `now`), from the scope's
    level changes and the runs over which it was scored (`services/level_time.py`).

    Hours are elapsed hours: a week with a clock change has 167 or 169. Shares are of the whole
    week (so far): with the share not scored they add up to 100 %.
    """
    stop = min(end.astimezone(UTC), now.astimezone(UTC))
    mine = [c for c in changes if c.scope == scope]
    time = level_time(mine, [r for r in runs if r.scope == scope], start, stop)
    within = [c for c in mine if start <= c.at < end]
    whole = round(time.seconds)

    def share(seconds: float) -> float | None:
        return percent(round(seconds), whole)

    return ScopePressure(
        scope,
        {lvl: round(total / 3600, 1) for lvl, total in time.seconds_at_level.items()},
        round(time.seconds_not_scored / 3600, 1),
        {lvl: share(total) for lvl, total in time.seconds_at_level.items()},
        share(time.seconds_not_scored),
        sum(1 for c in within if c.escalation),
        sum(1 for c in within if not c.escalation),
        time.level_at_start,
        time.level_at_end,
    )
