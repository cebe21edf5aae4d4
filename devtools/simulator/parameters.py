"""The simulated city's parameters, each with where it comes from (docs/simulator.md).

Rates are per simulated day at `volume=1`, for a city of ~800,000 people with one acute trust of
1,450 general and acute beds (the default catalogue). Durations are lognormal: a median and a
spread (the sigma of the underlying normal), since stays and waits in care are right-skewed with
a long tail. "Assumed" marks a value chosen to fit the published figures, not read from them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from flowsight.schemas.codes import ServiceKind


class Spread(NamedTuple):
    """A lognormal duration: half of the draws are shorter than `median`."""

    median: timedelta
    sigma: float


def days(median: float, sigma: float) -> Spread:
    """A lognormal duration with a median of `median` days."""
    return Spread(timedelta(days=median), sigma)


def hours(median: float, sigma: float) -> Spread:
    """A lognormal duration with a median of `median` hours."""
    return Spread(timedelta(hours=median), sigma)


# The steady state ------------------------------------------------------------------------------

#: How long the city runs before its start, so beds, queues and delays are in steady state.
#: Two months: several lengths of stay of the slowest service (community beds, ~19 days).
WARM_UP = timedelta(days=60)
#: The census keeps, besides everyone still in care, whoever moved in the last day: so the
#: figures of the last 24 hours (four-hour performance, discharges, length of stay) are there.
RECENT = timedelta(days=1)

# Front door: NHS England, A&E Attendances and Emergency Admissions ----------------------------

#: Type 1 attendances a day (assumed for a city of 800,000: ~150,000 a year).
ED_ATTENDANCES_PER_DAY = 400
#: Share of type 1 attendances admitted (the publication: about one in four to one in three).
ED_ADMITTED_SHARE = 0.26
#: Arrival to departure. Chosen so ~74 % leave within four hours, near the 76-78 % of all
#: attendances the NHS has reported and targeted in 2024-25; admitted patients wait for a bed.
ED_TIME_DISCHARGED = hours(2.3, 0.5)
ED_TIME_ADMITTED = hours(4.5, 0.55)
#: Emergency admissions not through the emergency department (GP, same-day emergency care):
#: the publication's "other emergency admissions", about a quarter of the total (assumed 50).
DIRECT_EMERGENCY_ADMISSIONS_PER_DAY = 50
#: Elective ordinary (overnight) admissions booked a day (assumed; day cases use no overnight
#: bed). A booked elective is cancelled when the wards are fuller than the share below, as
#: trusts cancel electives under bed pressure: this holds occupancy near the KH03 level, where
#: emergency demand alone would wander by several per cent from day to day.
ELECTIVE_ADMISSIONS_PER_DAY = 65
ELECTIVES_CANCELLED_ABOVE = 0.92
ELECTIVE_COMPLEX_SHARE = 0.03

# Acute stay: KH03 occupancy, HES length of stay, the acute discharge situation report ----------

#: Emergency admissions who die in hospital (assumed ~3 %).
DIED_SHARE = 0.03
#: Of the emergency admissions who leave alive: who needs support (the discharge pathways).
#: Together with the electives this gives ~80 % P0, ~14 % P1, ~4 % P2, ~2 % P3 of discharges.
EMERGENCY_PATHWAYS = (("P1", 0.18), ("P2", 0.056), ("P3", 0.027))
#: Admission to the Discharge Ready Date (criteria to reside met until then).
READY_ELECTIVE = days(2.3, 0.7)
READY_SIMPLE = days(3.55, 0.9)
READY_COMPLEX = days(7.0, 0.7)  # frailer, older patients who will need support
READY_DIED = days(8.0, 0.9)
#: Pathway 0: most leave on their Discharge Ready Date; some wait (medicines, transport...).
P0_DELAYED_SHARE = 0.3
P0_LEAVES_AFTER = hours(3.0, 0.5)
P0_DELAY = days(0.7, 0.8)
#: Reasons of the pathway 0 delays (sitrep reason codes, SPEC 8.2), weighted as in the
#: sitrep's published breakdown (June 2023: medical decision 390, therapy 421, equipment 234,
#: transport 98, medicines 44 a day); diagnostics and family disagreement assumed.
P0_REASONS = (
    ("awaiting_therapy_decision", 0.28),
    ("awaiting_medical_decision", 0.26),
    ("awaiting_equipment", 0.16),
    ("awaiting_diagnostic", 0.1),
    ("awaiting_transport", 0.08),
    ("patient_family_disagreement", 0.07),
    ("awaiting_medicines_tto", 0.05),
)

# Transfer of care: the hub assesses every complex discharge (Leeds seeds 002, 003) ------------

#: From the Discharge Ready Date to the hub's completed assessment (assumed about a day).
HUB_ASSESSMENT = days(0.7, 0.6)
#: Which assessment the hub opens, by pathway (care_act: social care; therapy: rehabilitation).
HUB_ASSESSMENT_KIND = {"P1": "care_act", "P2": "therapy", "P3": "care_act"}
#: Pathway 1 patients who go to reablement rather than straight to a home-care package.
P1_REABLEMENT_SHARE = 0.7
#: Where each pathway goes, and the sitrep delay reason while waiting for it.
WAITING_REASON = {
    "P1": "p1_awaiting_resource",
    "P2": "p2_awaiting_bed",
    "P3": "p3_awaiting_care_home",
}
#: From referral to the service being able to start (assessment, sourcing, transport), on
#: top of waiting for a free bed or care hours where the service is full.
SOURCING = {
    ServiceKind.REABLEMENT: days(1.2, 0.6),
    ServiceKind.SHORT_TERM_BEDS: days(0.8, 0.5),
    ServiceKind.HOME_CARE: days(2.5, 0.8),
    ServiceKind.RESIDENTIAL_NURSING: days(6.0, 0.7),
}
#: Leaving hospital to starting in the next service (transport, handover).
HANDOVER = hours(1.0, 0.3)
DESTINATION = {
    ServiceKind.REABLEMENT: "usual_residence_with_support",
    ServiceKind.HOME_CARE: "usual_residence_with_support",
    ServiceKind.SHORT_TERM_BEDS: "short_term_bed",
    ServiceKind.RESIDENTIAL_NURSING: "care_home_residential",
}
#: New care-home placements that are nursing rather than residential (assumed).
NURSING_SHARE = 0.4

# Intermediate care: Leeds seeds and the catalogue's capacities ---------------------------------

#: Community (pathway 2) bed stay until ready to leave: ~19 days on average (seed 001: average
#: length of stay in rehabilitation and recovery beds down by 7-8 days to about this).
COMMUNITY_BED_STAY = days(18.5, 0.5)
#: Where a community bed patient goes next (seed 000: most go home; assumed 75/15/10).
COMMUNITY_BED_OUTCOMES = (("P0", 0.75), ("P1", 0.15), ("P3", 0.10))
#: Care hours a week at the start of reablement, uniform between these (assumed).
REABLEMENT_HOURS = (7.0, 21.0)
#: Reablement runs up to about six weeks.
REABLEMENT_STAY = days(27.0, 0.35)
#: Leaving reablement fully independent (assumed; seed 000 reports a 19 % rise in this share).
REABLEMENT_INDEPENDENT = 0.55
#: Of those not independent, who needs a long-term home-care package afterwards (assumed).
REABLEMENT_TO_HOME_CARE = 0.4
#: Long-term home-care package size, hours a week (assumed).
HOME_CARE_HOURS = (5.0, 20.0)

# Urgent community response (2-hour crisis response) --------------------------------------------

UCR_REFERRALS_PER_DAY = 60
UCR_RESPONSE = hours(1.2, 0.5)
UCR_DECLINED_SHARE = 0.12
UCR_STAY = days(2.0, 0.6)
UCR_NO_FURTHER_ACTION = 0.7

# Capacity reports ------------------------------------------------------------------------------

#: Share of a service's capacity open at a report (a few beds closed, e.g. for infection control).
OPEN_SHARE = (0.98, 1.0)
