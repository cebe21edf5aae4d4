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
from flowsight.schemas.codes import ServiceKind
from flowsight.services.delays import DelayRow as DelayRow
from flowsight.services.delays import (
    bed_based,
    delay_days,
    delay_days_figure,
    during,
    is_running,
    residents_delayed,
)
from flowsight.services.delays import delay_rows as delay_rows
from flowsight.services.facts import Assessment, Attendance, Delay, Referral, Stay, midnights
from flowsight.services.flow_figures import Figures as Figures  # one figures type, re-exported
from flowsight.services.flow_figures import (
    delays_by_publication_band,
    hidden_delays,
    hospital_discharges,
    left_hospital,
    long_stays,
    long_term_starts,
    no_further_action,
    percent,
    queue_by_pathway,
    two_hour_standard,
    went_home,
)
from flowsight.services.occupancy import occupancy
from flowsight.services.timestamps import parse_timestamp, utc_timestamp

FOUR_HOURS = timedelta(hours=4)
TWELVE_HOURS = timedelta(hours=12)
#: Pressure is scored on the last 24 hours, not on "today": a period that restarts at midnight
#: makes one breach at 00:05 a 100 % breach rate (see also the minimum sample in pressure).
PRESSURE_WINDOW = timedelta(hours=24)
LONG_TERM_KINDS = frozenset({ServiceKind.HOME_CARE, ServiceKind.RESIDENTIAL_NURSING})


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
        "delayed_days_home_based",
        "delayed_7_plus",
        "delayed_14_plus",
        "delayed_21_plus",
        "open_assessments",
        "in_department_over_4h",
        "in_department_over_12h",
        *(f"queue_p{n}" for n in range(4)),
        *(f"long_stay_{d}_plus" for d in (7, 14, 21)),
        *(f"delayed_days_{b}" for b in ("0", "1", "2_3", "4_6", "7_13", "14_20", "21_plus")),
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


def pressure_period(now: datetime) -> Period:
    """The period whose figures pressure is scored on: the 24 hours up to `now`."""
    return Period(now - PRESSURE_WINDOW, now)


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
    current_stays = [s for s in facts.stays if during(s.started_at, s.ended_at, now_text)]
    current_delays = [d for d in facts.delays if is_running(d, now_text)]
    delay_lengths = [midnights(d.started_at, now) for d in current_delays]
    ended = _ended_in(facts.stays, period)
    figures: Figures = {
        "queue_length": len(waiting),
        "longest_wait_hours": _hours(min((r.referred_at for r in waiting), default=None), now),
        "in_service": len(current_stays),
        "starts": sum(1 for s in facts.stays if period.holds(s.started_at)),
        "discharges": len(ended),
        "discharged": sum(1 for s in ended if s.ended_by == "discharge"),
        "los_days_mean": _mean(midnights(s.started_at, s.ended_at or now) for s in ended),
        "delayed_count": len(current_delays),
        # Lost bed days in beds; in a service without beds, days delayed at home (no bed lost).
        delay_days_figure(service): sum(delay_lengths),
        "delayed_7_plus": sum(1 for d in delay_lengths if d >= 7),
        "delayed_14_plus": sum(1 for d in delay_lengths if d >= 14),
        "delayed_21_plus": sum(1 for d in delay_lengths if d >= 21),
        **delays_by_publication_band(delay_lengths),
        **queue_by_pathway(waiting),
    }
    figures.update(occupancy(service, len(current_stays), open_capacity))
    if service.has_beds:
        figures.update(long_stays(current_stays, now))
    if ended and service.has_beds:
        nctr = [s.nctr_days or 0 for s in ended]
        los = [midnights(s.started_at, s.ended_at or now) for s in ended]
        figures["nctr_days_mean"] = _mean(nctr)
        figures["ctr_days_mean"] = _mean(t - d for t, d in zip(los, nctr, strict=True))
    return figures


def _front_door(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    now_text = utc_timestamp(now)
    departed = [a for a in facts.attendances if period.holds(a.departed_at)]
    breaches = [a for a in departed if _longer_than(a.arrived_at, a.departed_at, FOUR_HOURS)]
    # NHS England's "12 hours in the department from arrival" (ECDS), not the trolley wait from
    # a decision to admit, which the contract does not carry.
    twelve = [a for a in departed if _longer_than(a.arrived_at, a.departed_at, TWELVE_HOURS)]
    in_department = [a for a in facts.attendances if during(a.arrived_at, a.departed_at, now_text)]
    return {
        "attendances": sum(1 for a in facts.attendances if period.holds(a.arrived_at)),
        "admissions_from_ed": sum(1 for a in departed if a.outcome == "admitted"),
        "departures": len(departed),
        "four_hour_breaches": len(breaches),
        "four_hour_breach_pct": percent(len(breaches), len(departed)),
        "twelve_hours_from_arrival": len(twelve),
        "twelve_hours_from_arrival_pct": percent(len(twelve), len(departed)),
        # For a front door, those waiting are those in the department.
        "queue_length": len(in_department),
        "longest_wait_hours": _hours(min((a.arrived_at for a in in_department), default=None), now),
        "in_department_over_4h": sum(
            1 for a in in_department if _longer_than(a.arrived_at, now, FOUR_HOURS)
        ),
        "in_department_over_12h": sum(
            1 for a in in_department if _longer_than(a.arrived_at, now, TWELVE_HOURS)
        ),
    }


def _inpatient(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    # Of those who left hospital alive on a pathway, as the pathway shares are: a death is on no
    # pathway, so complex discharges are exactly the P1-P3 shares.
    return hospital_discharges(left_hospital(facts.stays, period.holds))


def _transfers_of_care(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    now_text = utc_timestamp(now)
    completed = [a for a in facts.assessments if period.holds(a.completed_at)]
    open_now = [a for a in facts.assessments if during(a.opened_at, a.completed_at, now_text)]
    return {
        "open_assessments": len(open_now),
        # The hub's queue is its open assessments, not referrals to it.
        "queue_length": len(open_now),
        "longest_wait_hours": _hours(min((a.opened_at for a in open_now), default=None), now),
        "assessments_completed": len(completed),
        "assessment_hours_mean": _mean(
            _hours(a.opened_at, parse_timestamp(a.completed_at))
            for a in completed
            if a.completed_at
        ),
    }


def _ucr(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    decided = [r for r in facts.referrals if period.holds(_decided_at(r))]
    return {
        "referrals": sum(1 for r in facts.referrals if period.holds(r.referred_at)),
        "referrals_decided": len(decided),
        "referrals_accepted_pct": percent(
            sum(1 for r in decided if r.status != "declined"), len(decided)
        ),
        **no_further_action(_ended_in(facts.stays, period)),
        **two_hour_standard(facts.referrals, period.holds, now),
    }


# Outside the hospital a stay ended by a transfer out is one of the service's discharges: the
# person left it, for where the transfer took them (`describe_transfer`). A sender may record
# the same move as a discharge there or as a transfer into the next service; both count alike.


def _reablement(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    ended = _ended_in(facts.stays, period)
    measured = [s for s in ended if s.start_care_hours is not None and s.end_care_hours is not None]
    return {
        "care_hours_change_mean": _mean(
            (s.end_care_hours or 0) - (s.start_care_hours or 0) for s in measured
        ),
        "independent_pct": percent(sum(1 for s in ended if s.independent), len(ended)),
        "readmitted_30d_pct": _readmitted_pct(ended),
    }


def _short_term_beds(facts: ServiceFacts, period: Period, now: datetime) -> Figures:
    left = _ended_in(facts.stays, period)
    return {
        "discharged_home_pct": percent(sum(1 for s in left if went_home(s)), len(left)),
        "readmitted_30d_pct": _readmitted_pct(left),
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
        "readmitted_30d_pct": percent(sum(1 for s in started if s.readmitted_at), len(started)),
        "time_to_source_days_mean": _time_to_source(facts.referrals, period),
    }


def _readmitted_pct(discharged: list[Stay]) -> float | None:
    """Of those discharged alive (the dead cannot come back), the share readmitted."""
    alive = [s for s in discharged if s.destination != "died"]
    return percent(sum(1 for s in alive if s.readmitted_at), len(alive))


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


def system_figures(
    services: Sequence[Service], facts: dict[str, ServiceFacts], period: Period, now: datetime
) -> Figures:
    """System measures: residents delayed across the system; long-term placements and packages."""
    rows = delay_rows((d for f in facts.values() for d in f.delays), now)
    long_term = [s.id for s in services if s.kind in LONG_TERM_KINDS]
    now_text = utc_timestamp(now)
    beds = bed_based(services)
    days = delay_days(rows, beds)

    def stays_of(kind: ServiceKind) -> list[Stay]:
        return [
            x for s in services if s.kind == kind for x in facts.get(s.id, ServiceFacts()).stays
        ]

    running = [d for f in facts.values() for d in f.delays if is_running(d, now_text)]
    return {
        "delayed_count": residents_delayed(running),
        # Lost bed days are bed days: a hidden delay at home loses no bed; its days are apart.
        "lost_bed_days": days.lost_bed_days,
        "delayed_days_home_based": days.delayed_days_home_based,
        "hidden_delays": hidden_delays((r.service for r in rows), beds),
        **long_term_starts(
            stays_of(ServiceKind.RESIDENTIAL_NURSING), stays_of(ServiceKind.HOME_CARE), period.holds
        ),
        "long_term_in_care": sum(
            1
            for service in long_term
            for s in facts.get(service, ServiceFacts()).stays
            if during(s.started_at, s.ended_at, now_text)
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
    return [r for r in referrals if during(r.referred_at, closed_at(r), moment)]


def _decided_at(referral: Referral) -> str | None:
    """When a referral was declined, or accepted (whatever came after: a start, a withdrawal, a
    death); a referral that went straight to a start was accepted when it started. None:
    undecided, or withdrawn before a decision."""
    if referral.status == "declined":
        return referral.decided_at
    if referral.accepted_at is not None:
        return referral.accepted_at
    if referral.status in ("accepted", "started"):  # facts stored before accepted_at was kept
        return referral.decided_at or referral.started_at
    return None


def closed_at(referral: Referral) -> str | None:
    """When a referral stopped waiting: started, declined or withdrawn (None: still waiting)."""
    if referral.status == "started":
        return referral.started_at
    if referral.status in ("declined", "withdrawn"):
        return referral.decided_at
    return None


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
