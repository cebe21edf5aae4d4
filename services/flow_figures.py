"""The seed metrics table's flow figures that services.kpis adds to each service's figures.

Queues by pathway, long stays, delays in the bands of NHS England's discharge publication,
where patients go when they leave hospital, and the system's long-term placements. Pure:
plain functions over journey facts; `holds` says whether a moment falls in the period counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from flowsight.services.facts import Referral, Stay, midnights
from flowsight.services.leaving import CARE_HOME_TYPES
from flowsight.services.timestamps import parse_timestamp

Figures = dict[str, float | int | None]
Holds = Callable[[str | None], bool]

PATHWAYS = ("P0", "P1", "P2", "P3")
#: A complex discharge: home with new support, or to a bed (pathways 1-3).
COMPLEX_PATHWAYS = frozenset({"P1", "P2", "P3"})
HOME = frozenset({"usual_residence", "usual_residence_with_support"})


def went_home(stay: Stay) -> bool:
    """Whether a stay ended at the patient's usual residence: home, or back to the care home
    they live in with no new support (pathway 0, as the 2024 discharge guidance counts a
    return to an existing care home; a new placement is pathway 3)."""
    return stay.destination in HOME or (
        stay.destination in CARE_HOME_TYPES and stay.pathway == "P0"
    )


#: Long stays in a bed (NHS "long-stay patients"): in the bed this many midnights or more.
LONG_STAY_DAYS = (7, 14, 21)
#: Delay-length bands of NHS England's discharge delays publication: (name, from, to) days.
PUBLICATION_BANDS = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2_3", 2, 3),
    ("4_6", 4, 6),
    ("7_13", 7, 13),
    ("14_20", 14, 20),
    ("21_plus", 21, None),
)


def publication_band(days: int) -> str:
    """The publication band of a delay of `days` midnights: 0, 1, 2_3, 4_6, 7_13, 14_20, 21_plus."""
    for name, low, high in PUBLICATION_BANDS:
        if days >= low and (high is None or days <= high):
            return name
    return "0"  # a negative length cannot happen: midnights() is never below 0


def queue_by_pathway(waiting: Iterable[Referral]) -> Figures:
    """Patients waiting, by the pathway their referral names (`queue_p0`..`queue_p3`)."""
    counts: Figures = {f"queue_{p.lower()}": 0 for p in PATHWAYS}
    for referral in waiting:
        name = f"queue_{(referral.pathway or '').lower()}"
        if name in counts:
            counts[name] = int(counts[name] or 0) + 1
    return counts


def long_stays(current: Iterable[Stay], now: datetime) -> Figures:
    """Patients in a bed now for 7, 14 and 21 midnights or more (`long_stay_7_plus`...)."""
    lengths = [midnights(s.started_at, now) for s in current]
    return {f"long_stay_{d}_plus": sum(1 for n in lengths if n >= d) for d in LONG_STAY_DAYS}


def delays_by_publication_band(lengths: Iterable[int]) -> Figures:
    """Current delays counted in the publication's bands (`delayed_days_0`...)."""
    counts: Figures = {f"delayed_days_{name}": 0 for name, _low, _high in PUBLICATION_BANDS}
    for days in lengths:
        name = f"delayed_days_{publication_band(days)}"
        counts[name] = int(counts[name] or 0) + 1
    return counts


def left_hospital(stays: Iterable[Stay], holds: Holds) -> list[Stay]:
    """Acute stays that ended in the period by leaving the hospital alive.

    A discharge, or a transfer to a service outside the hospital (the journey gives those a
    destination and pathway); a move to another acute service is not leaving; a death is not
    a discharge to a pathway.
    """
    return [
        s
        for s in stays
        if holds(s.ended_at)
        and s.destination != "died"
        and (s.ended_by == "discharge" or (s.ended_by == "transfer" and s.destination is not None))
    ]


def hospital_discharges(left: Sequence[Stay]) -> Figures:
    """Where patients leaving hospital (`left_hospital`) went: % directly home, % complex and the
    P0-P3 shares, and the share with no pathway recorded.

    As NHS England publishes them (acute discharge sitrep, Table 4), the pathway shares are of
    the discharges on a pathway, so the four add up to 100 % and complex is P1-P3 of them; a
    discharge with no pathway recorded is in none of them, but in `pathway_not_recorded_pct`
    (of every discharge), so that missing data shows instead of reading as "not complex".
    """
    recorded = [s for s in left if s.pathway in PATHWAYS]
    figures: Figures = {
        "hospital_discharges": len(left),
        "hospital_discharges_with_pathway": len(recorded),
        "directly_home_pct": percent(sum(1 for s in left if went_home(s)), len(left)),
        "complex_discharge_pct": percent(
            sum(1 for s in recorded if s.pathway in COMPLEX_PATHWAYS), len(recorded)
        ),
        "pathway_not_recorded_pct": percent(len(left) - len(recorded), len(left)),
    }
    for pathway in PATHWAYS:
        share = percent(sum(1 for s in recorded if s.pathway == pathway), len(recorded))
        figures[f"pathway_{pathway.lower()}_pct"] = share
    return figures


def no_further_action(left: Sequence[Stay]) -> Figures:
    """Of the stays that ended (discharged, or transferred out: taken into hospital, handed on
    to reablement), the share home with no new support; of those discharged, the share with no
    pathway recorded.

    No further action is pathway 0 (home, no new or additional support) at the usual residence;
    a discharge with no pathway recorded is judged by its destination alone: home without
    support is no further action, home with support is not (it was counted as none before). A
    transfer out is further action whatever it carries. The pathway figure is of discharges
    only: what a sender recorded; a transfer's pathway is the receiving service's, or none.
    """
    discharged = [s for s in left if s.ended_by == "discharge"]
    quiet = [
        s
        for s in discharged
        if went_home(s)
        and (s.pathway == "P0" or (s.pathway is None and s.destination == "usual_residence"))
    ]
    return {
        "no_further_action_pct": percent(len(quiet), len(left)),
        "pathway_not_recorded_pct": percent(
            sum(1 for s in discharged if s.pathway not in PATHWAYS), len(discharged)
        ),
    }


def long_term_starts(placements: Iterable[Stay], packages: Iterable[Stay], holds: Holds) -> Figures:
    """Long-term care started in the period: care-home placements and home-care packages."""
    return {
        "long_term_placements_started": sum(1 for s in placements if holds(s.started_at)),
        "long_term_packages_started": sum(1 for s in packages if holds(s.started_at)),
    }


def hidden_delays(delayed_in: Iterable[str], bed_based: frozenset[str]) -> int:
    """Running delays (given by service) outside beds: people ready to move on from home."""
    return sum(1 for service in delayed_in if service not in bed_based)


def percent(part: int, whole: int | None) -> float | None:
    """`part` as a percentage of `whole`, to one decimal, a half rounded up as NHS tables round
    (1 of 16 is 6.3; Python's `round` gave 6.2, a half to the even digit); None when there is
    no whole. Worked in whole numbers: no binary fraction tips a half either way."""
    if not whole:
        return None
    tenths, left = divmod(1000 * part, whole)
    return (tenths + (2 * left >= whole)) / 10


#: Priorities that mark a 2-hour urgent community response referral (case, spaces, hyphens
#: and underscores aside): the contract's `priority` is the sender's word.
TWO_HOUR_PRIORITIES = frozenset({"2h", "2hr", "2hrs", "2hour", "2hours", "twohour", "twohours"})
TWO_HOURS = timedelta(hours=2)


def two_hour_standard(referrals: Iterable[Referral], holds: Holds, now: datetime) -> Figures:
    """NHS England's 2-hour urgent community response measure: of the 2-hour referrals received
    in the period, the share seen (started) within 2 hours of the referral.

    A referral not seen whose 2 hours have run by `now` is a breach already, whenever it is
    seen: counted only once seen, a morning of referrals nobody reached read nothing (no rate
    to escalate on) until the first was seen late. One still within its 2 hours is not counted
    yet; one declined or withdrawn within its 2 hours, before it was seen, is not counted (no
    care was due), but one declined or withdrawn after them stays a breach: it had dropped out,
    and the rate rose, and pressure fell, just as the response had failed."""
    due = met = 0
    for referral in referrals:
        if not holds(referral.referred_at) or not _two_hour(referral.priority):
            continue
        referred = parse_timestamp(referral.referred_at)
        started = parse_timestamp(referral.started_at) if referral.started_at else None
        if started is not None and started <= now:
            due += 1
            met += started - referred <= TWO_HOURS
        elif now - referred <= TWO_HOURS:
            continue  # within its 2 hours at `now`: not due yet (a past day's row too)
        elif started is not None or referral.waiting:
            due += 1  # not seen by `now`, its 2 hours run: a breach, whenever seen
        elif referral.decided_at and parse_timestamp(referral.decided_at) - referred > TWO_HOURS:
            due += 1  # declined or withdrawn unseen after its 2 hours: still a breach
    return {"ucr_2h_due": due, "ucr_2h_met_pct": percent(met, due)}


def _two_hour(priority: str | None) -> bool:
    return "".join(c for c in (priority or "").lower() if c.isalnum()) in TWO_HOUR_PRIORITIES
