"""Each service's figures (SPEC section 2): outcomes, flow and delivery, from journey facts.

Figures for a period count what happened in it (starts, discharges, referrals, breaches); the
current figures (queue, occupancy, delays) are as of `now`. Every function is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean

from flowsight.schemas.catalogue import Service
from flowsight.schemas.codes import CapacityUnit, ServiceKind
from flowsight.services.facts import (
    Assessment,
    Attendance,
    Delay,
    Referral,
    Stay,
    delay_band,
    midnights,
)
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

FOUR_HOURS = timedelta(hours=4)
COMPLEX_PATHWAYS = frozenset({"P1", "P2", "P3"})
HOME = frozenset({"usual_residence", "usual_residence_with_support"})
LONG_TERM_KINDS = frozenset({ServiceKind.HOME_CARE, ServiceKind.RESIDENTIAL_NURSING})

Figures = dict[str, float | int | None]

#: Figures that describe a moment (as of `now`), not a period.
CURRENT_FIGURES = frozenset(
    {
        "queue_length",
        "longest_wait_hours",
        "in_service",
        "occupied_beds",
        "occupancy_pct",
        "delayed_count",
        "lost_bed_days",
        "delayed_7_plus",
        "delayed_14_plus",
        "delayed_21_plus",
        "open_assessments",
        "in_department_over_4h",
    }
)


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of time [start, end) that figures are counted over."""

    start: datetime
    end: datetime
    start_text: str = field(init=False)
    end_text: str = field(init=False)

    def __post_init__(self) -> None:
        # Facts carry fixed-width UTC strings: compare as strings, parse nothing per fact.
        object.__setattr__(self, "start_text", utc_timestamp(self.start))
        object.__setattr__(self, "end_text", utc_timestamp(self.end))

    def holds(self, moment: str | None) -> bool:
        return moment is not None and self.start_text <= moment < self.end_text


@dataclass(slots=True)
class ServiceFacts:
    """The facts that concern one service, from every patient's journey."""

    stays: list[Stay] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)  # referrals TO the service
    attendances: list[Attendance] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)


def service_figures(
    service: Service,
    facts: ServiceFacts,
    period: Period,
    now: datetime,
    open_capacity: int | None = None,
) -> Figures:
    """The service's current figures and those of `period`, for its kind."""
    figures = _common(service, facts, period, now, open_capacity)
    figures.update(_BY_KIND[service.kind](facts, period, now))
    return figures


def _common(
    service: Service, facts: ServiceFacts, period: Period, now: datetime, open_capacity: int | None
) -> Figures:
    now_text = utc_timestamp(now)
    waiting = waiting_at(facts.referrals, now_text)
    current_stays = [s for s in facts.stays if _during(s.started_at, s.ended_at, now_text)]
    current_delays = [d for d in facts.delays if _during(d.started_at, d.ended_at, now_text)]
    delay_lengths = [midnights(d.started_at, now) for d in current_delays]
    ended = _ended_in(facts.stays, period)
    figures: Figures = {
        "queue_length": len(waiting),
        "longest_wait_hours": _hours(min((r.referred_at for r in waiting), default=None), now),
        "in_service": len(current_stays),
        "starts": sum(1 for s in facts.stays if period.holds(s.started_at)),
        "discharges": len(ended),
        "los_days_mean": _mean(midnights(s.started_at, s.ended_at or now) for s in ended),
        "delayed_count": len(current_delays),
        "lost_bed_days": sum(delay_lengths),
        "delayed_7_plus": sum(1 for d in delay_lengths if d >= 7),
        "delayed_14_plus": sum(1 for d in delay_lengths if d >= 14),
        "delayed_21_plus": sum(1 for d in delay_lengths if d >= 21),
    }
    capacity = open_capacity if open_capacity is not None else service.capacity
    if service.capacity_unit == CapacityUnit.BEDS:
        figures["occupied_beds"] = len(current_stays)
        figures["occupancy_pct"] = _pct(len(current_stays), capacity)
    if ended and service.capacity_unit == CapacityUnit.BEDS:
        nctr = [s.nctr_days or 0 for s in ended]
        los = [midnights(s.started_at, s.ended_at or now) for s in ended]
        figures["nctr_days_mean"] = _mean(nctr)
        figures["ctr_days_mean"] = _mean(t - d for t, d in zip(los, nctr, strict=True))
    return figures


def _front_door(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    now_text = utc_timestamp(now)
    departed = [a for a in facts.attendances if period.holds(a.departed_at)]
    breaches = [a for a in departed if _longer_than(a.arrived_at, a.departed_at, FOUR_HOURS)]
    in_department = [a for a in facts.attendances if _during(a.arrived_at, a.departed_at, now_text)]
    return {
        "attendances": sum(1 for a in facts.attendances if period.holds(a.arrived_at)),
        "admissions_from_ed": sum(1 for a in departed if a.outcome == "admitted"),
        "four_hour_breaches": len(breaches),
        "four_hour_breach_pct": _pct(len(breaches), len(departed)),
        # For a front door, those waiting are those in the department.
        "queue_length": len(in_department),
        "longest_wait_hours": _hours(min((a.arrived_at for a in in_department), default=None), now),
        "in_department_over_4h": sum(
            1 for a in in_department if _longer_than(a.arrived_at, now, FOUR_HOURS)
        ),
    }


def _inpatient(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    discharged = [s for s in _ended_in(facts.stays, period) if s.ended_by == "discharge"]
    return {
        "complex_discharge_pct": _pct(
            sum(1 for s in discharged if s.pathway in COMPLEX_PATHWAYS), len(discharged)
        )
    }


def _transfers_of_care(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    now_text = utc_timestamp(now)
    completed = [a for a in facts.assessments if period.holds(a.completed_at)]
    return {
        "open_assessments": sum(
            1 for a in facts.assessments if _during(a.opened_at, a.completed_at, now_text)
        ),
        "assessments_completed": len(completed),
        "assessment_hours_mean": _mean(
            _hours(a.opened_at, parse_timestamp(a.completed_at))
            for a in completed
            if a.completed_at
        ),
    }


def _ucr(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    decided = [
        r
        for r in facts.referrals
        if period.holds(r.decided_at) and r.status in ("accepted", "started", "declined")
    ]
    discharged = [s for s in _ended_in(facts.stays, period) if s.ended_by == "discharge"]
    no_further_action = [
        s for s in discharged if s.pathway in (None, "P0") and s.destination in HOME
    ]
    return {
        "referrals": sum(1 for r in facts.referrals if period.holds(r.referred_at)),
        "referrals_accepted_pct": _pct(
            sum(1 for r in decided if r.status != "declined"), len(decided)
        ),
        "no_further_action_pct": _pct(len(no_further_action), len(discharged)),
    }


def _reablement(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    ended = [s for s in _ended_in(facts.stays, period) if s.ended_by == "discharge"]
    measured = [s for s in ended if s.start_care_hours is not None and s.end_care_hours is not None]
    return {
        "care_hours_change_mean": _mean(
            (s.end_care_hours or 0) - (s.start_care_hours or 0) for s in measured
        ),
        "independent_pct": _pct(sum(1 for s in ended if s.independent), len(ended)),
    }


def _short_term_beds(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    discharged = [s for s in _ended_in(facts.stays, period) if s.ended_by == "discharge"]
    return {
        "discharged_home_pct": _pct(
            sum(1 for s in discharged if s.destination in HOME), len(discharged)
        ),
        "readmitted_30d_pct": _pct(sum(1 for s in discharged if s.readmitted_at), len(discharged)),
    }


def _home_care(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    started = [s for s in facts.stays if period.holds(s.started_at)]
    return {
        "new_packages": len(started),
        "package_hours_mean": _mean(
            s.start_care_hours for s in started if s.start_care_hours is not None
        ),
        "time_to_source_days_mean": _time_to_source(facts.referrals, period),
    }


def _care_homes(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    started = [s for s in facts.stays if period.holds(s.started_at)]
    return {
        "placements_started": len(started),
        "nursing_placements": sum(1 for s in started if s.care_type == "nursing"),
        "residential_placements": sum(1 for s in started if s.care_type == "residential"),
        "readmitted_30d_pct": _pct(sum(1 for s in started if s.readmitted_at), len(started)),
        "time_to_source_days_mean": _time_to_source(facts.referrals, period),
    }


_BY_KIND = {
    ServiceKind.ACUTE_FRONT_DOOR: _front_door,
    ServiceKind.ACUTE_INPATIENT: _inpatient,
    ServiceKind.TRANSFERS_OF_CARE: _transfers_of_care,
    ServiceKind.UCR: _ucr,
    ServiceKind.REABLEMENT: _reablement,
    ServiceKind.SHORT_TERM_BEDS: _short_term_beds,
    ServiceKind.HOME_CARE: _home_care,
    ServiceKind.RESIDENTIAL_NURSING: _care_homes,
}


@dataclass(frozen=True, slots=True)
class DelayRow:
    """One current delay, as counted by service, reason, pathway and band."""

    service: str
    reason: str
    pathway: str
    band: str
    days: int


def delay_rows(delays: Iterable[Delay], now: datetime) -> list[DelayRow]:
    """The delays running at `now` with their lost bed days and band, for grouping."""
    now_text = utc_timestamp(now)
    rows = []
    for delay in delays:
        if _during(delay.started_at, delay.ended_at, now_text):
            days = midnights(delay.started_at, now)
            rows.append(
                DelayRow(
                    delay.service,
                    delay.reason or "unknown",
                    delay.pathway or "unknown",
                    delay_band(days),
                    days,
                )
            )
    return rows


def system_figures(
    services: Sequence[Service], facts: dict[str, ServiceFacts], period: Period, now: datetime
) -> Figures:
    """System measures: residents delayed across the system; long-term placements and packages."""
    rows = delay_rows((d for f in facts.values() for d in f.delays), now)
    long_term = [s.id for s in services if s.kind in LONG_TERM_KINDS]
    now_text = utc_timestamp(now)
    return {
        "delayed_count": len(rows),
        "lost_bed_days": sum(r.days for r in rows),
        "long_term_in_care": sum(
            1
            for service in long_term
            for s in facts.get(service, ServiceFacts()).stays
            if _during(s.started_at, s.ended_at, now_text)
        ),
        "long_term_started": sum(
            1
            for service in long_term
            for s in facts.get(service, ServiceFacts()).stays
            if period.holds(s.started_at)
        ),
    }


def waiting_at(referrals: Iterable[Referral], moment: str) -> list[Referral]:
    """Referrals waiting at `moment`: referred by then, not yet started, declined or withdrawn."""
    return [r for r in referrals if _during(r.referred_at, _closed_at(r), moment)]


def _closed_at(referral: Referral) -> str | None:
    if referral.status == "started":
        return referral.started_at
    if referral.status in ("declined", "withdrawn"):
        return referral.decided_at
    return None


def _during(start: str, end: str | None, moment: str) -> bool:
    # As of `moment`, so that a past day's figures come out as they were at its end.
    return start <= moment and (end is None or end > moment)


def _ended_in(stays: Iterable[Stay], period: Period) -> list[Stay]:
    return [s for s in stays if period.holds(s.ended_at)]


def _time_to_source(referrals: Iterable[Referral], period: Period) -> float | None:
    return _mean(
        (parse_timestamp(r.started_at) - parse_timestamp(r.referred_at)).total_seconds() / 86400
        for r in referrals
        if r.started_at and period.holds(r.started_at)
    )


def _longer_than(start: str, end: str | datetime | None, limit: timedelta) -> bool:
    if end is None:
        return False
    finish = end if isinstance(end, datetime) else parse_timestamp(end)
    return finish - parse_timestamp(start) > limit


def _hours(since: str | None, now: datetime) -> float | None:
    if since is None:
        return None
    return round((now - parse_timestamp(since)).total_seconds() / 3600, 2)


def _mean(values: Iterable[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(fmean(present), 2) if present else None


def _pct(part: int, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None
