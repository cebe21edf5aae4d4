"""The acute trust: the emergency department, admissions, the wards and the transfer-of-care hub.

Every admission draws when the patient will be medically fit (their Discharge Ready Date) and
what they will need then (a discharge pathway). Pathway 0 patients mostly leave that day; the
others wait in their bed, first for the hub's assessment, then for the next service.
"""

from __future__ import annotations

from datetime import datetime

from flowsight.devtools.simulator.clock import Clock, Patient
from flowsight.devtools.simulator.community import Community
from flowsight.devtools.simulator.parameters import (
    DIED_SHARE,
    DIRECT_EMERGENCY_ADMISSIONS_PER_DAY,
    ED_ADMITTED_SHARE,
    ED_ATTENDANCES_PER_DAY,
    ED_TIME_ADMITTED,
    ED_TIME_DISCHARGED,
    ELECTIVE_ADMISSIONS_PER_DAY,
    ELECTIVE_COMPLEX_SHARE,
    ELECTIVES_CANCELLED_ABOVE,
    EMERGENCY_PATHWAYS,
    HUB_ASSESSMENT,
    HUB_ASSESSMENT_KIND,
    P0_DELAY,
    P0_DELAYED_SHARE,
    P0_LEAVES_AFTER,
    P0_REASONS,
    P1_REABLEMENT_SHARE,
    READY_COMPLEX,
    READY_DIED,
    READY_ELECTIVE,
    READY_SIMPLE,
    RECENT,
)
from flowsight.schemas.codes import ServiceKind

WARDS = ("Ward 12", "Ward 23", "Ward 31", "AMU")
DIED = "died"
_TARGET_KIND = {
    "P2": ServiceKind.SHORT_TERM_BEDS,
    "P3": ServiceKind.RESIDENTIAL_NURSING,
}


class Hospital:
    """Arrivals at the front door and the wards, and every acute patient's way out."""

    def __init__(self, clock: Clock, community: Community) -> None:
        self.clock = clock
        self.community = community
        self.ed = clock.service(ServiceKind.ACUTE_FRONT_DOOR)
        self.ward = clock.service(ServiceKind.ACUTE_INPATIENT)
        self.hub = clock.service(ServiceKind.TRANSFERS_OF_CARE)

    def open(self) -> None:
        """Start the arrivals: attendances, emergency admissions not through ED, electives."""
        c = self.clock
        if self.ed is not None:
            c.every(ED_ATTENDANCES_PER_DAY, self._ed_arrival)
        if self.ward is not None:
            c.every(DIRECT_EMERGENCY_ADMISSIONS_PER_DAY, lambda: self._admit(None, "emergency"))
            c.every(ELECTIVE_ADMISSIONS_PER_DAY, self._elective)

    # Front door -----------------------------------------------------------------------------

    def _ed_arrival(self) -> None:
        c = self.clock
        assert self.ed is not None
        admitted = self.ward is not None and c.chance(ED_ADMITTED_SHARE)
        if not admitted and c.clock < c.start - RECENT:
            return  # warming up: an attendance long over leaves nothing in the census
        patient = c.new_patient()
        arrived = c.clock
        c.publish("attendance", self.ed, patient, arrived_at=arrived.isoformat())
        stay = ED_TIME_ADMITTED if admitted else ED_TIME_DISCHARGED
        c.at(c.after(stay), self._ed_departure, patient, arrived, admitted)

    def _ed_departure(self, patient: Patient, arrived: datetime, admitted: bool) -> None:
        c = self.clock
        assert self.ed is not None
        c.publish(
            "attendance",
            self.ed,
            patient,
            arrived_at=arrived.isoformat(),
            departed_at=c.clock.isoformat(),
            outcome="admitted" if admitted else "discharged",
        )
        if admitted:
            self._admit(patient, "emergency")
        else:
            c.settle(patient)

    # Wards ----------------------------------------------------------------------------------

    def _elective(self) -> None:
        c, ward = self.clock, self.ward
        assert ward is not None
        beds = ward.capacity * c.volume if ward.capacity else None
        if beds is None or c.occupied[ward.id] < ELECTIVES_CANCELLED_ABOVE * beds:
            self._admit(None, "elective")

    def _admit(self, patient: Patient | None, method: str) -> None:
        c = self.clock
        assert self.ward is not None
        patient = patient or c.new_patient()
        c.publish(
            "admission", self.ward, patient, admission_method=method, unit=c.rng.choice(WARDS)
        )
        if method == "elective":
            pathway = "P1" if c.chance(ELECTIVE_COMPLEX_SHARE) else "P0"
            ready = READY_ELECTIVE
        elif c.chance(DIED_SHARE):
            pathway, ready = DIED, READY_DIED
        else:
            pathway = c.pick(EMERGENCY_PATHWAYS, "P0")
            ready = READY_SIMPLE if pathway == "P0" else READY_COMPLEX
        c.at(c.after(ready), self._ready, patient, pathway)

    def _ready(self, patient: Patient, pathway: str) -> None:
        """The Discharge Ready Date: medically fit, or (for a few) the end of life."""
        c = self.clock
        if pathway == DIED:
            self._leave(patient, destination=DIED)
        elif pathway == "P0" and c.chance(P0_DELAYED_SHARE):
            self._review(patient, "P0", reason=c.pick(P0_REASONS, "no_plan"))
            c.at(c.after(P0_DELAY), self._leave, patient)
        elif pathway == "P0":
            c.at(c.after(P0_LEAVES_AFTER), self._leave, patient)
        else:
            # Waiting for the transfer-of-care hub to assess what they need.
            self._review(patient, pathway, reason="awaiting_community_hub")
            kind = HUB_ASSESSMENT_KIND[pathway]
            if self.hub is not None:
                c.publish("assessment", self.hub, patient, kind=kind, status="open")
            c.at(c.after(HUB_ASSESSMENT), self._assessed, patient, pathway, kind, c.clock)

    def _assessed(self, patient: Patient, pathway: str, kind: str, ready_at: datetime) -> None:
        c = self.clock
        assert self.ward is not None
        if self.hub is not None:
            c.publish("assessment", self.hub, patient, kind=kind, status="completed")
        target_kind = _TARGET_KIND.get(pathway) or (
            ServiceKind.REABLEMENT if c.chance(P1_REABLEMENT_SHARE) else ServiceKind.HOME_CARE
        )
        target = c.service(target_kind)
        if target is None:  # a catalogue without that service: home, as pathway 0
            self._leave(patient)
            return
        # Same Discharge Ready Date, now waiting for the next service.
        self._review(patient, pathway, ready_at=ready_at)
        self.community.refer(patient, self.ward, target, pathway)

    def _review(
        self,
        patient: Patient,
        pathway: str,
        *,
        reason: str | None = None,
        ready_at: datetime | None = None,
    ) -> None:
        assert self.ward is not None
        self.community.review(patient, self.ward, pathway, reason=reason, ready_at=ready_at)

    def _leave(self, patient: Patient, destination: str = "usual_residence") -> None:
        assert self.ward is not None
        pathway = None if destination == DIED else "P0"
        self.clock.publish(
            "discharge", self.ward, patient, destination=destination, pathway=pathway
        )
        self.clock.settle(patient)
