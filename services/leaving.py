"""How a stay ends: where a transfer takes the patient, and which stays a readmission follows.

Used by the journey replay (services.journey). A transfer between two services is a discharge
from the first as far as its figures go (Hospital discharge and community support guidance:
a move to reablement is pathway 1, to a short-term bed pathway 2, to a care home pathway 3),
so the ended stay carries the destination and pathway the receiving service's kind implies,
unless the transfer or the referral it answers names the pathway.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Protocol

from flowsight.services.facts import (
    READMISSION_DAYS,
    Assessment,
    Referral,
    Stay,
    london_day,
)

#: Destination (code list 8.3) and pathway (8.1) of a transfer into a service of each kind.
#: A transfer into another acute service is a move inside the hospital: no destination.
TRANSFER_OUTCOME: Mapping[str, tuple[str, str]] = {
    "ucr": ("usual_residence_with_support", "P1"),
    "reablement": ("usual_residence_with_support", "P1"),
    "home_care": ("usual_residence_with_support", "P1"),
    "short_term_beds": ("short_term_bed", "P2"),
    "residential_nursing": ("care_home_residential", "P3"),
}


class _Finished(Protocol):
    assessments: list[Assessment]


CARE_HOME_TYPES = {"care_home_nursing": "nursing", "care_home_residential": "residential"}


def describe_transfer(
    stay: Stay, to_kind: str | None, pathway: str | None, to_care_type: str | None
) -> None:
    """Give a stay ended by a transfer the destination and pathway of where it took them."""
    outcome = TRANSFER_OUTCOME.get(to_kind or "")
    if outcome is None:
        return
    destination, implied = outcome
    if to_kind == "residential_nursing" and to_care_type == "nursing":
        destination = "care_home_nursing"
    stay.destination, stay.pathway = destination, pathway or implied


def back_to_placement(placement: Stay | None, to_unit: str | None, named: str | None) -> bool:
    """Whether a move into a care home is its resident going back to the `placement` still open
    there: home with no new support (pathway 0, as the 2024 discharge guidance counts it). A
    unit of another kind of care (nursing for a residential resident), or a waiting referral
    naming another pathway, is a new placement."""
    if placement is None or named not in (None, "P0"):
        return False
    kind = care_type(to_unit)
    return kind is None or placement.care_type in (None, kind)


def close_on_death(
    referrals: Mapping[str, Referral],
    assessments: dict[tuple[str, str], Assessment],
    done: _Finished,
    at: str,
) -> None:
    """A death ends every wait: open referrals are withdrawn, open assessments closed at `at`.

    Stays in other services stay open: each provider reports its own discharge of the patient.
    """
    for referral in referrals.values():
        if referral.waiting:
            referral.status, referral.decided_at = "withdrawn", at
    for assessment in assessments.values():
        assessment.completed_at = at
        done.assessments.append(assessment)
    assessments.clear()


def care_type(unit: str | None) -> str | None:
    """ "nursing" or "residential" when a unit's name says which kind of care home it is."""
    text = (unit or "").lower()
    return "nursing" if "nursing" in text else "residential" if "residential" in text else None


def with_readmissions(
    stays: list[Stay],
    acute: frozenset[str],
    care_homes: frozenset[str],
    beds: frozenset[str],
) -> list[Stay]:
    """Mark stays followed by an unplanned acute admission within 30 days: on days 0 to 29
    after the discharge date (`readmission_last_day`), whatever the time of day.

    An unplanned acute admission is an emergency (or unstated) admission to an acute inpatient
    service, or a transfer into one from a service that is not an acute inpatient service (sent
    in from the emergency department, a community bed or reablement). It may come the same
    minute as the discharge before it. From a bed (`beds`, care homes aside) it counts against
    the last discharge from a bed before it only; a care home's placement and a home-based
    service's stay count every such admission in their 30 days.
    """
    transferred_out = {
        s.ended_at for s in stays if s.ended_by == "transfer" and s.service not in acute
    }
    admissions = sorted(
        (s.started_at, id(s))
        for s in stays
        if s.service in acute
        and (
            s.admission_method in ("emergency", None)
            or (s.admission_method == "transfer_in" and s.started_at in transferred_out)
        )
    )
    if not admissions:
        return stays
    # A readmission counts against the last discharge from a bed before it (NHS Digital's
    # indicator: "the last, previous discharge"), not every discharge of the 30 days before it.
    # A care home's placement and a home-based service's stay (`beds` has neither) keep theirs.
    discharged = {id(s) for s in stays if s.service in beds and s.service not in care_homes}
    latest = {
        who: max(
            (
                s.ended_at
                for s in stays
                if id(s) in discharged and s.ended_at and s.ended_at <= t and id(s) != who
            ),
            default=None,
        )
        for t, who in admissions
    }
    for stay in stays:
        # From a care home the window runs from the placement's start; elsewhere from discharge.
        anchor = stay.started_at if stay.service in care_homes else stay.ended_at
        if anchor is None or anchor > admissions[-1][0]:
            continue
        last = readmission_last_day(anchor)
        stay.readmitted_at = next(
            (
                t
                for t, who in admissions
                if anchor <= t
                and who != id(stay)
                and london_day(t) <= last
                and (id(stay) not in discharged or latest[who] == anchor)
            ),
            None,
        )
    return stays


def readmission_last_day(anchor: str) -> date:
    """The last day (Europe/London) a readmission after `anchor` counts on: day 29."""
    return london_day(anchor) + timedelta(days=READMISSION_DAYS - 1)
