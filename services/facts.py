"""What a patient's journey says happened: the facts every figure is computed from.

Facts are mutable only while a replay builds them (it is the hot path: copying frozen
dataclasses at every step halved its throughput); once a replay returns, treat them as values.

Facts are derived by replaying a patient's events in event-time order; the read model stores
them per patient, replacing them whenever the journey changes, so a late or corrected event
corrects every figure that depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flowsight.services.timestamps import parse_timestamp

#: Lost bed days are counted in midnights of the NHS's clock, whatever the server's zone.
LONDON = ZoneInfo("Europe/London")
#: A readmission counts on days 0 to 29 after the discharge date, in London dates (NHS Digital's
#: indicator "emergency readmissions within 30 days of discharge from hospital").
READMISSION_DAYS = 30
LONG_DELAY_BANDS = (21, 14, 7)


@dataclass(slots=True)
class Stay:
    """A spell in one service: admitted (or transferred in), until discharged or transferred out."""

    service: str
    started_at: str
    ended_at: str | None = None
    ended_by: str | None = None  # "discharge" or "transfer"
    admission_method: str | None = None
    start_care_hours: float | None = None
    end_care_hours: float | None = None
    destination: str | None = None
    pathway: str | None = None
    independent: bool | None = None
    care_type: str | None = None  # "nursing" or "residential", for care-home placements
    readmitted_at: str | None = None  # an emergency acute admission within 30 days
    nctr_days: int | None = None  # of the stay's midnights, those with no criteria to reside
    next_step: str | None = None  # the latest its criteria-to-reside reviews said, for the caseload
    reviewed_at: str | None = None  # its latest criteria-to-reside review


@dataclass(slots=True)
class Delay:
    """No criteria to reside: in a bed from the discharge ready date until they leave it."""

    service: str
    started_at: str  # the Discharge Ready Date
    ended_at: str | None = None
    reason: str | None = None
    pathway: str | None = None
    # Whose delay, as the read model stores it (its rows' pseudonym): a person delayed in two
    # services at once is one resident delayed. The fold's own delays leave it empty: they are
    # the journey's.
    pseudonym: str = field(default="", compare=False)


@dataclass(slots=True)
class Referral:
    """A referral to a service, from first referred until started, declined or withdrawn."""

    to_service: str
    from_service: str
    referred_at: str
    status: str  # new, accepted, declined, withdrawn, started
    pathway: str | None = None
    priority: str | None = None
    decided_at: str | None = None
    started_at: str | None = None
    next_step: str | None = None  # the latest the referral's events said, for the caseload
    accepted_at: str | None = None  # kept when it is then started or withdrawn

    @property
    def waiting(self) -> bool:
        return self.status in ("new", "accepted")


@dataclass(slots=True)
class Attendance:
    """A front-door attendance: arrived, and departed (or still in the department)."""

    service: str
    episode_id: str
    arrived_at: str
    departed_at: str | None = None
    outcome: str | None = None


@dataclass(slots=True)
class Assessment:
    """A social-care, continuing-care or therapy assessment, open until completed."""

    service: str
    kind: str
    opened_at: str
    completed_at: str | None = None
    next_step: str | None = None  # the latest the assessment's events said, for the caseload


@dataclass(slots=True)
class Anomaly:
    """An event that does not fit the journey as known (e.g. a discharge with no admission)."""

    service: str
    kind: str
    source: str
    event_id: str
    occurred_at: str


@lru_cache(maxsize=1 << 15)  # a few MB: more than the timestamps of a city's open facts
def london_day(timestamp: str) -> date:
    """The calendar day (Europe/London) a fact's timestamp falls on.

    Remembered: each refresh asks it again of every open fact's timestamps, for every period
    it computes, and the zone conversion was most of the time lost bed days took."""
    return parse_timestamp(timestamp).astimezone(LONDON).date()


@lru_cache(maxsize=64)
def _day_of(moment: datetime) -> date:
    # Remembered: a day's figures measure every bed and delay open then up to the same moment.
    return moment.astimezone(LONDON).date()


def midnights(start: str, end: str | datetime) -> int:
    """Midnights (Europe/London) passed from `start` to `end`: the lost bed days of a delay."""
    last = _day_of(end) if isinstance(end, datetime) else london_day(end)
    return max(0, (last - london_day(start)).days)


def delay_band(days: int) -> str:
    """The long-delay band of a delay of `days`, each apart from the others: under 7, 7 to 13,
    14 to 20 or 21+. Named so: the service figures' `delayed_7_plus` and `delayed_14_plus` count
    every delay of at least so many days, the longer ones too, and a band of 7 to 13 days
    labelled "7+" beside them read 14 for the system where one service's "7+" read 20."""
    low, *higher = sorted(LONG_DELAY_BANDS)
    if days < low:
        return f"under {low}"
    for high in higher:
        if days < high:
            return f"{low} to {high - 1}"
        low = high
    return f"{low}+"


#: The long-delay bands as `delay_band` names them, shortest first.
DELAY_BANDS = tuple(delay_band(days) for days in (0, *sorted(LONG_DELAY_BANDS)))


def latest_next_step(
    referrals: Sequence[Referral], assessments: Sequence[Assessment], stays: Sequence[Stay] = ()
) -> tuple[str, Referral | Assessment | Stay] | None:
    """A patient's next step: the one named by their latest referral or assessment that names
    one (latest by its last recorded moment), with the fact it came from. A criteria-to-reside
    review is an assessment of a stay: the stay holds what its reviews said, as of the latest."""
    dated: list[tuple[str, int, Referral | Assessment | Stay]] = []
    for referral in referrals:
        if referral.next_step:
            moments = (referral.referred_at, referral.decided_at or "", referral.started_at or "")
            dated.append((max(moments), 0, referral))
    for assessment in assessments:
        if assessment.next_step:
            dated.append((assessment.completed_at or assessment.opened_at, 1, assessment))
    for stay in stays:
        if stay.next_step and stay.reviewed_at:
            dated.append((stay.reviewed_at, 1, stay))
    if not dated:
        return None
    # On the same moment an assessment's word is the later one: it follows the referral.
    fact = max(dated, key=lambda item: (item[0], item[1]))[2]
    return (fact.next_step or "", fact)
