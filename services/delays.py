"""Delays running at a moment, and the rows the delay counts and lists are grouped from.

One rule for every count and list (SPEC section 5): a delay counts from its Discharge Ready
Date until it ends; a delay whose DRD is still in the future is not a delay yet, anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flowsight.schemas.catalogue import Service
from flowsight.services.facts import LONDON, Delay, delay_band, london_day, midnights
from flowsight.services.flow_figures import publication_band
from flowsight.services.timestamps import utc_timestamp

ONE_DAY = timedelta(days=1)
#: Midnights since the DRD of delays in a bed-based service: beds held by people ready to go.
LOST_BED_DAYS = "lost_bed_days"
#: The same midnights in a service without beds (reablement, home care, UCR): a hidden delay,
#: a person at home ready to move on to the next service. Time lost, but no bed.
DELAYED_DAYS_HOME_BASED = "delayed_days_home_based"


def during(start: str, end: str | None, moment: str) -> bool:
    """Whether a fact from `start` to `end` (open if None) is under way at `moment`."""
    # As of `moment`, so that a past day's figures come out as they were at its end.
    return start <= moment and (end is None or end > moment)


@dataclass(frozen=True, slots=True)
class DelayRow:
    """One current delay, as counted by service, reason, pathway and band."""

    service: str
    reason: str
    pathway: str
    band: str
    days: int
    publication_band: str = "0"  # the publication's: 0, 1, 2_3, 4_6, 7_13, 14_20, 21_plus


@dataclass(frozen=True, slots=True)
class DelayDays:
    """Midnights since the DRD summed over delays, split by whether they hold a bed."""

    lost_bed_days: int
    delayed_days_home_based: int


def bed_based(services: Iterable[Service]) -> frozenset[str]:
    """The services whose delays lose bed days: those whose capacity is counted in beds."""
    return frozenset(s.id for s in services if s.has_beds)


def delay_days_figure(service: Service) -> str:
    """The name a service's delayed days go by: `lost_bed_days` in beds, else
    `delayed_days_home_based` (a delay at home loses no bed)."""
    return LOST_BED_DAYS if service.has_beds else DELAYED_DAYS_HOME_BASED


def delay_days(rows: Iterable[DelayRow], beds: frozenset[str]) -> DelayDays:
    """The days of `rows` in the bed-based services `beds` (lost bed days) and elsewhere."""
    lost = home = 0
    for row in rows:
        if row.service in beds:
            lost += row.days
        else:
            home += row.days
    return DelayDays(lost, home)


def is_running(delay: Delay, moment: str) -> bool:
    """Whether `delay` counts at `moment` (UTC text): its DRD has come and it has not ended."""
    return during(delay.started_at, delay.ended_at, moment)


def delay_rows(delays: Iterable[Delay], now: datetime) -> list[DelayRow]:
    """The delays running at `now` with their lost bed days and band, for grouping."""
    now_text = utc_timestamp(now)
    rows = []
    for delay in delays:
        if is_running(delay, now_text):
            days = midnights(delay.started_at, now)
            rows.append(
                DelayRow(
                    delay.service,
                    delay.reason or "unknown",
                    delay.pathway or "unknown",
                    delay_band(days),
                    days,
                    publication_band(days),
                )
            )
    return rows


def period_lost_bed_days(
    delays: Iterable[Delay], start: datetime, end: datetime, as_of: datetime
) -> int:
    """Lost bed days of the period [start, end): each midnight (Europe/London) in it, up to `as_of`, at which
    a delay was running, whether it has ended since or not.

    A delay loses the midnights after its Discharge Ready Date up to its end (as
    `services.facts.midnights` counts them), so the periods of a partition add up to the
    delays' lost bed days, and a delay whose DRD is still to come loses none.
    """
    first = _first_midnight(start)
    as_of_day = as_of.astimezone(LONDON).date()
    last = min(_first_midnight(end) - ONE_DAY, as_of_day)
    total = 0
    for delay in delays:
        since = london_day(delay.started_at) + ONE_DAY
        until = london_day(delay.ended_at) if delay.ended_at else as_of_day
        total += max(0, (min(last, until) - max(first, since)).days + 1)
    return total


def _first_midnight(moment: datetime) -> date:
    """The day whose midnight is the first at or after `moment`."""
    local = moment.astimezone(LONDON)
    return local.date() if local.time() == time(0) else local.date() + ONE_DAY


def residents_delayed(running: Iterable[Delay]) -> int:
    """The people among `running` delays: a person delayed in two services at once (a
    community bed kept while they are in hospital, neither discharged) is one resident
    delayed. Delays whose person is not known (the fold's own) are each one."""
    known: set[str] = set()
    unknown = 0
    for delay in running:
        if delay.pseudonym:
            known.add(delay.pseudonym)
        else:
            unknown += 1
    return len(known) + unknown
