"""Out of hospital: referrals to the next service, its capacity, and the stays it gives.

A referral waits for the service to be able to start (assessment, sourcing, transport); where
the catalogue gives the service a capacity in beds or care hours, it then also waits for a bed
or hours to come free, first come first served. The patient leaves where they are (the referring
service publishes the discharge) and starts in the new service about an hour later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowsight.devtools.simulator.clock import Clock, Patient
from flowsight.devtools.simulator.parameters import (
    COMMUNITY_BED_OUTCOMES,
    COMMUNITY_BED_STAY,
    DESTINATION,
    HANDOVER,
    HOME_CARE_HOURS,
    NURSING_SHARE,
    OPEN_SHARE,
    REABLEMENT_HOURS,
    REABLEMENT_INDEPENDENT,
    REABLEMENT_STAY,
    REABLEMENT_TO_HOME_CARE,
    SOURCING,
    WAITING_REASON,
    days,
    hours,
)
from flowsight.schemas.catalogue import Service
from flowsight.schemas.codes import CapacityUnit, ServiceKind

ACCEPTED_AFTER = hours(4.0, 0.6)
#: A community-bed patient going home with new support waits about two days for it (assumed).
SUPPORT_AT_HOME = days(2.0, 0.6)
#: Services whose capacity limits who can start: beds, or care hours a week.
GATED_UNITS = frozenset({CapacityUnit.BEDS, CapacityUnit.HOURS})


@dataclass(eq=False)
class Move:
    """A patient referred from `origin` to `target`, and what their move needs."""

    patient: Patient
    origin: Service
    target: Service
    pathway: str
    need: float  # beds (1) or care hours a week the target commits
    leaving: dict[str, Any] = field(default_factory=dict)  # extra fields of the discharge


@dataclass(eq=False)
class Gate:
    """A service's capacity: what is committed, and who waits for it, in order."""

    capacity: float
    used: float = 0.0
    waiting: deque[Move] = field(default_factory=deque)

    def admit(self, move: Move) -> bool:
        """Commit capacity to `move` now if it fits and nobody is ahead; else queue it."""
        if not self.waiting and self.used + move.need <= self.capacity:
            self.used += move.need
            return True
        self.waiting.append(move)
        return False

    def release(self, need: float) -> list[Move]:
        """Free `need`; return the waiting moves that now fit, in order."""
        self.used = max(0.0, self.used - need)
        started = []
        while self.waiting and self.used + self.waiting[0].need <= self.capacity:
            move = self.waiting.popleft()
            self.used += move.need
            started.append(move)
        return started


class Community:
    """Referrals onward and the stays in community beds, reablement, home care and care homes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.gates: dict[str, Gate] = {}
        for service in clock.by_kind.values():
            if (
                service.capacity
                and service.kind in SOURCING
                and service.capacity_unit in GATED_UNITS
            ):
                # A bigger city (volume) has proportionally more of every service.
                # Gated at the fewest beds or hours a capacity report may say are open.
                self.gates[service.id] = Gate(service.capacity * clock.volume * OPEN_SHARE[0])
        self.held: dict[int, tuple[str, float]] = {}  # patient -> (service, capacity held)

    # Referral to start ----------------------------------------------------------------------

    def refer(
        self,
        patient: Patient,
        origin: Service,
        target: Service,
        pathway: str,
        **leaving: Any,
    ) -> None:
        """Refer the patient from `origin` to `target`; they move once it can take them."""
        c = self.clock
        c.publish(
            "referral",
            origin,
            patient,
            to_service=target.id,
            pathway=pathway,
            status="new",
            priority="routine",
        )
        c.at(c.after(ACCEPTED_AFTER), self._accept, patient, target)
        move = Move(patient, origin, target, pathway, self._need(target), leaving)
        c.at(c.after(SOURCING[target.kind]), self._sourced, move)

    def _need(self, target: Service) -> float:
        if target.kind in (ServiceKind.REABLEMENT, ServiceKind.HOME_CARE):
            low, high = (
                REABLEMENT_HOURS if target.kind == ServiceKind.REABLEMENT else HOME_CARE_HOURS
            )
            return round(self.clock.rng.uniform(low, high), 1)
        return 1.0

    def _accept(self, patient: Patient, target: Service) -> None:
        self.clock.publish("referral", target, patient, to_service=target.id, status="accepted")

    def _sourced(self, move: Move) -> None:
        gate = self.gates.get(move.target.id)
        if gate is None or gate.admit(move):
            self._move(move)

    def _move(self, move: Move) -> None:
        c = self.clock
        destination = DESTINATION[move.target.kind]
        if move.target.kind == ServiceKind.RESIDENTIAL_NURSING and c.chance(NURSING_SHARE):
            destination = "care_home_nursing"
        c.publish(
            "discharge",
            move.origin,
            move.patient,
            destination=destination,
            pathway=move.pathway,
            **move.leaving,
        )
        self.vacate(move.patient)
        c.at(c.after(HANDOVER), self._arrive, move, destination)

    def vacate(self, patient: Patient) -> None:
        """The patient left a bed or hours: give them to whoever waits for them."""
        held = self.held.pop(id(patient), None)
        if held is None:
            return
        service, need = held
        for move in self.gates[service].release(need):
            self._move(move)

    # Stays ----------------------------------------------------------------------------------

    def _arrive(self, move: Move, destination: str) -> None:
        c, target, patient = self.clock, move.target, move.patient
        hours_a_week = move.need if target.capacity_unit == CapacityUnit.HOURS else None
        unit = {"care_home_nursing": "Nursing", "care_home_residential": "Residential"}.get(
            destination
        )
        c.publish(
            "admission",
            target,
            patient,
            admission_method="start_of_care",
            care_hours_per_week=hours_a_week,
            unit=unit,
        )
        if target.id in self.gates:
            self.held[id(patient)] = (target.id, move.need)
        if target.kind == ServiceKind.REABLEMENT:
            c.at(c.after(REABLEMENT_STAY), self._end_reablement, patient, target, move.need)
        elif target.kind == ServiceKind.SHORT_TERM_BEDS:
            c.at(c.after(COMMUNITY_BED_STAY), self._end_community_bed, patient, target)
        else:
            # Long-term care lasts for years: the flow this simulation follows ends here.
            c.settle(patient)

    def _leave(self, patient: Patient, service: Service, **fields: Any) -> None:
        self.clock.publish("discharge", service, patient, **fields)
        self.vacate(patient)
        self.clock.settle(patient)

    def _end_reablement(self, patient: Patient, service: Service, start_hours: float) -> None:
        c = self.clock
        if c.chance(REABLEMENT_INDEPENDENT):
            self._leave(
                patient,
                service,
                destination="usual_residence",
                care_hours_per_week=0.0,
                independent=True,
            )
            return
        end_hours = round(start_hours * c.rng.uniform(0.3, 0.9), 1)
        home_care = c.service(ServiceKind.HOME_CARE)
        if home_care is not None and c.chance(REABLEMENT_TO_HOME_CARE):
            # Ready to move on, waiting at home for a package: a hidden delay (docs/metrics.md).
            self.review(patient, service, "P1")
            self.refer(
                patient, service, home_care, "P1", care_hours_per_week=end_hours, independent=False
            )
            return
        self._leave(
            patient,
            service,
            destination="usual_residence",
            care_hours_per_week=end_hours,
            independent=False,
        )

    def _end_community_bed(self, patient: Patient, service: Service) -> None:
        c = self.clock
        outcome = c.pick(COMMUNITY_BED_OUTCOMES, "P0")
        care_home = c.service(ServiceKind.RESIDENTIAL_NURSING)
        if outcome == "P3" and care_home is not None:
            self.review(patient, service, "P3")
            self.refer(patient, service, care_home, "P3")
        elif outcome == "P1":
            self.review(patient, service, "P1")
            c.at(c.after(SUPPORT_AT_HOME), self._home_with_support, patient, service)
        else:
            self._leave(patient, service, destination="usual_residence", pathway="P0")

    def _home_with_support(self, patient: Patient, service: Service) -> None:
        self._leave(patient, service, destination="usual_residence_with_support", pathway="P1")

    def review(
        self,
        patient: Patient,
        service: Service,
        pathway: str,
        *,
        reason: str | None = None,
        ready_at: datetime | None = None,
    ) -> None:
        """A review finding no criteria to reside: ready to move on, waiting for `pathway`."""
        c = self.clock
        c.publish(
            "assessment",
            service,
            patient,
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=False,
            discharge_ready_at=(ready_at or c.clock).isoformat(),
            delay_reason=reason or WAITING_REASON.get(pathway),
            pathway=pathway,
        )
