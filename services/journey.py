"""A patient's journey through the system, rebuilt from their events in event-time order.

The stored journey is the patient's events, sorted by when they happened
(`services/recorded.py`); everything else (the services they are in, the queues they wait in)
is derived by replaying them. That makes the result independent of arrival order and of
duplicates, which is what at-least-once delivery and late source systems need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowsight.schemas.catalogue import Catalogue
from flowsight.services.attendances import left_department, left_for, record_attendance
from flowsight.services.cancellations import retracted, unmatched
from flowsight.services.delays import bed_based
from flowsight.services.facts import (
    Anomaly,
    Assessment,
    Attendance,
    Delay,
    Referral,
    Stay,
    midnights,
)
from flowsight.services.leaving import (
    CARE_HOME_TYPES,
    back_to_placement,
    care_type,
    close_on_death,
    describe_transfer,
    with_readmissions,
)

Event = dict[str, Any]

_OPEN_REFERRAL = frozenset({"new", "accepted"})


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A patient waiting for a service: referred to it, not yet admitted."""

    service: str
    pseudonym: str
    referred_at: str
    referring_service: str
    pathway: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceMap:
    """What replay needs to know of the catalogue: each service's kind, and which have beds."""

    kinds: Mapping[str, str] = field(default_factory=dict)
    bed_based: frozenset[str] = frozenset()
    #: Each service's organisation (episode ids are a source's own).
    organisations: Mapping[str, str] = field(default_factory=dict)
    acute_inpatient: frozenset[str] = field(init=False)
    care_homes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        # Looked up for every replay: computed once.
        object.__setattr__(self, "acute_inpatient", self.services_of_kind("acute_inpatient"))
        object.__setattr__(self, "care_homes", self.services_of_kind("residential_nursing"))

    @classmethod
    def of(cls, catalogue: Catalogue) -> ServiceMap:
        return cls(
            {s.id: s.kind.value for s in catalogue.services},
            bed_based(catalogue.services),
            {s.id: s.organisation for s in catalogue.services},
        )

    def services_of_kind(self, kind: str) -> frozenset[str]:
        return frozenset(service for service, k in self.kinds.items() if k == kind)


@dataclass(slots=True)
class JourneyState:
    """Where a patient is now, and the facts of their journey so far."""

    pseudonym: str
    in_services: dict[str, str] = field(default_factory=dict)
    queues: dict[str, QueueEntry] = field(default_factory=dict)
    stays: list[Stay] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    attendances: list[Attendance] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


def replay(pseudonym: str, events: list[Event], services: ServiceMap | None = None) -> JourneyState:
    """Derive the patient's state and facts from their events, as if they arrived in order."""
    gone = retracted(events)
    fold = _Fold(pseudonym, services or _NO_SERVICES)
    if gone is not None:  # the journey has cancellations: one may name an event it does not hold
        for position in unmatched(events):
            if position not in gone:
                fold.anomaly(events[position], "cancellation_of_unknown_event")
    settled: set[int] = set()  # positions handled ahead of their turn
    for position, event in enumerate(events):
        if (gone and position in gone) or position in settled:
            continue
        if event["event_type"] == "admission" and event["service"] in fold.stays:
            # The stay is left at this same instant (a spell closed and the next opened in one
            # minute): the leaving comes first, or the new stay would be refused as a second.
            leaving = _leaving_at(events, position, event["service"], gone)
            if leaving is not None:
                _HANDLERS[events[leaving]["event_type"]](fold, events[leaving])
                settled.add(leaving)
        handler = _HANDLERS.get(event["event_type"])
        if handler is not None:
            handler(fold, event)
    return fold.finish()


def _leaving_at(
    events: list[Event], position: int, service: str, gone: set[int] | None
) -> int | None:
    """The position of a discharge from, or transfer out of, `service` at the same instant as
    the event at `position`, later in the journey's order; None if there is none."""
    at = events[position]["occurred_at"]
    for later in range(position + 1, len(events)):
        event = events[later]
        if event["occurred_at"] != at:
            return None
        if gone and later in gone:
            continue
        kind = event["event_type"]
        if (kind == "discharge" and event["service"] == service) or (
            kind == "transfer" and event["from_service"] == service != event["to_service"]
        ):
            return later
    return None


class _Fold:
    """The replay's working state: open stays, delays, referrals, attendances, assessments."""

    def __init__(self, pseudonym: str, services: ServiceMap) -> None:
        self.pseudonym = pseudonym
        self.services = services
        self.stays: dict[str, Stay] = {}  # open, by service
        self.delays: dict[str, Delay] = {}  # current, by service
        self.referrals: dict[str, Referral] = {}  # latest, by service referred to
        self.attendances: dict[tuple[str, str], Attendance] = {}
        self.assessments: dict[tuple[str, str], Assessment] = {}  # open, by service and kind
        self.care_type: str | None = None  # where the last discharge sent them: a care-home type
        self.criteria_met: dict[str, str] = {}  # by service: when a delay there last ended
        self.done: JourneyState = JourneyState(pseudonym)

    def anomaly(self, event: Event, kind: str) -> None:
        self.done.anomalies.append(
            Anomaly(
                event["service"], kind, event["source"], event["event_id"], event["occurred_at"]
            )
        )

    def start_stay(self, service: str, event: Event, method: str | None) -> None:
        if service in self.stays:
            self.anomaly(event, "admitted_while_in_service")
            return
        self.stays[service] = Stay(
            service,
            event["occurred_at"],
            admission_method=method,
            start_care_hours=event.get("care_hours_per_week"),
            # A move names the unit it goes to as `to_unit`.
            care_type=care_type(event.get("to_unit") or event.get("unit")) or self.care_type,
        )
        referral = self.referrals.get(service)
        if referral is not None and referral.waiting:
            referral.status, referral.started_at = "started", event["occurred_at"]

    def end_stay(self, service: str, event: Event, ended_by: str) -> bool:
        stay = self.stays.pop(service, None)
        if stay is None:
            return False
        self.end_delay(service, event["occurred_at"])
        nctr = sum(
            midnights(d.started_at, d.ended_at or event["occurred_at"])
            for d in self.done.delays
            if d.service == service and d.started_at >= stay.started_at
        )
        stay.ended_at, stay.ended_by, stay.nctr_days = event["occurred_at"], ended_by, nctr
        stay.end_care_hours = event.get("care_hours_per_week")
        stay.destination, stay.pathway = event.get("destination"), event.get("pathway")
        stay.independent = event.get("independent")
        self.done.stays.append(stay)
        return True

    def delay_start(self, service: str, ready: str | None, at: str) -> str:
        """When a delay a review at `at` reports in `service` began: its Discharge Ready Date (not
        before the stay), unless the patient met the criteria to reside since that date (a
        delay of this stay ended after it): then the date is stale, and the review is the start.
        Otherwise nights counted once, or nights the criteria were met, would count as delayed."""
        start = self.stays[service].started_at
        met = self.criteria_met.get(service)
        met = met if met is not None and met >= start else None
        return max(at, met) if ready and met and ready < met else max(ready or at, start)

    def end_delay(self, service: str, at: str) -> None:
        """The delay in `service` ends at `at`. One whose Discharge Ready Date had not come
        never ran: it is no fact, and its date is not when the criteria were last met."""
        delay = self.delays.pop(service, None)
        if delay is None:
            return
        self.criteria_met[service] = at
        if at >= delay.started_at:
            delay.ended_at = at
            self.done.delays.append(delay)

    def finish(self) -> JourneyState:
        state = self.done
        if self.stays:
            state.stays.extend(self.stays.values())
            state.in_services = {s.service: s.started_at for s in self.stays.values()}
        if self.delays:
            state.delays.extend(self.delays.values())
        if self.referrals:
            state.referrals.extend(self.referrals.values())
            state.queues = {
                r.to_service: QueueEntry(
                    r.to_service,
                    self.pseudonym,
                    r.referred_at,
                    r.from_service,
                    r.pathway,
                    r.priority,
                )
                for r in self.referrals.values()
                if r.waiting
            }
        if self.attendances:
            state.attendances.extend(self.attendances.values())
        if self.assessments:
            state.assessments.extend(self.assessments.values())
        if len(state.stays) > 1:  # a readmission needs a stay before it
            state.stays = with_readmissions(
                state.stays,
                self.services.acute_inpatient,
                self.services.care_homes,
                self.services.bed_based,
            )
        return state


def _referral(fold: _Fold, event: Event) -> None:
    target, status, at = event["to_service"], event["status"], event["occurred_at"]
    current = fold.referrals.get(target)
    if status in _OPEN_REFERRAL:
        if target in fold.stays:
            return  # already in the service: nothing to wait for
        if current is None or not current.waiting:
            if current is not None:
                fold.done.referrals.append(current)
            current = Referral(target, event["service"], at, "new")
            fold.referrals[target] = current
        if status == "accepted" and current.status != "accepted":
            current.status, current.decided_at = "accepted", current.decided_at or at
            current.accepted_at = current.accepted_at or at
        for name in ("pathway", "priority", "next_step"):  # a later event's word wins
            setattr(current, name, event.get(name) or getattr(current, name))
        return
    if current is not None and current.waiting:
        current.status, current.decided_at = status, at
    else:
        fold.anomaly(event, f"referral_{status}_without_referral")


def _admission(fold: _Fold, event: Event) -> None:
    # An admission ends no attendance: NHS patients are often admitted on the PAS while they
    # still wait in the department for a bed, and its departure says when they left it.
    fold.start_stay(event["service"], event, event.get("admission_method"))


def _transfer(fold: _Fold, event: Event) -> None:
    source, target = event["from_service"], event["to_service"]
    if source == target and source in fold.stays:
        stay = fold.stays[source]  # a ward move: the stay and any delay go on, the unit changes
        stay.care_type = care_type(event.get("to_unit")) or stay.care_type
        return
    # A move of the episode between services, or into one from none (Epic's A02 out of the
    # department sent as a move between wards), takes the patient out of its department. A
    # move within a service the patient was admitted to (on the PAS, while waiting) may be
    # one inside the department: their discharge ends the attendance at the latest.
    moved_out = left_for(fold.attendances, event, "admitted", fold.services.organisations)
    referral = fold.referrals.get(target)
    if not fold.end_stay(source, event, "transfer"):
        if moved_out or left_department(fold.attendances, source, event):
            # From the front door: what the gateways send as a departure and an admission.
            fold.start_stay(target, event, "emergency")
            return
        fold.anomaly(event, "transfer_without_admission")
    else:
        named = referral.pathway if referral is not None and referral.waiting else None
        placement = fold.stays.get(target) if target in fold.services.care_homes else None
        back = back_to_placement(placement, event.get("to_unit"), named)
        describe_transfer(
            fold.done.stays[-1],
            fold.services.kinds.get(target),
            "P0" if back else named,
            care_type(event.get("to_unit")),
        )
        if back:
            return  # the placement goes on: no second stay, no anomaly
        if target in fold.stays and target in fold.services.care_homes:
            fold.end_stay(target, event, "transfer")  # a new placement ends the one before
    fold.start_stay(target, event, "transfer_in")


def _discharge(fold: _Fold, event: Event) -> None:
    ended = fold.end_stay(event["service"], event, "discharge")
    # Out of the department by the discharge at the latest: admitted, if a stay ended; else an
    # emergency patient sent home, or elsewhere, from the department.
    outcome = "transferred" if event.get("destination") in _TRANSFERRED_TO else "discharged"
    left = left_for(
        fold.attendances, event, "admitted" if ended else outcome, fold.services.organisations
    )
    if not ended:
        if not left:
            fold.anomaly(event, "discharge_without_admission")
    elif event.get("destination") in CARE_HOME_TYPES:
        fold.care_type = CARE_HOME_TYPES[event["destination"]]
    if event.get("destination") == "died":
        close_on_death(fold.referrals, fold.assessments, fold.done, event["occurred_at"])


def _assessment(fold: _Fold, event: Event) -> None:
    service, kind, at = event["service"], event["kind"], event["occurred_at"]
    if kind == "ctr_review":
        _ctr_review(fold, event)
        return
    key = (service, kind)
    current = fold.assessments.get(key)
    if event["status"] == "open":
        current = fold.assessments.setdefault(key, Assessment(service, kind, at))
        current.next_step = event.get("next_step") or current.next_step
        return
    if current is None:
        current = Assessment(service, kind, at)  # completed with no open seen: took no time
    fold.assessments.pop(key, None)
    current.completed_at, current.next_step = at, event.get("next_step") or current.next_step
    fold.done.assessments.append(current)


def _ctr_review(fold: _Fold, event: Event) -> None:
    service, at = event["service"], event["occurred_at"]
    stay = fold.stays.get(service)
    if stay is None:
        fold.anomaly(event, "review_without_admission")
        return
    # What the review says happens next is the caseload's, as an assessment's: a later review
    # without one keeps the earlier word.
    stay.reviewed_at, stay.next_step = at, event.get("next_step") or stay.next_step
    if event["meets_criteria_to_reside"]:
        fold.end_delay(service, at)
        return
    # In a home-based service the same review says the person is ready to move on and waits for
    # the next service: a hidden delay, counted in that service (docs/metrics.md).
    current, ready = fold.delays.get(service), event.get("discharge_ready_at")
    if current is None:
        fold.delays[service] = Delay(
            service,
            fold.delay_start(service, ready, at),
            reason=event.get("delay_reason"),
            pathway=event.get("pathway"),
        )
        return
    if ready:  # a corrected Discharge Ready Date moves the start of the running delay; a stale
        current.started_at = fold.delay_start(service, ready, current.started_at)  # one doesn't
    current.reason = event.get("delay_reason") or current.reason
    current.pathway = event.get("pathway") or current.pathway


def _attendance(fold: _Fold, event: Event) -> None:
    record_attendance(fold.attendances, event)


_NO_SERVICES = ServiceMap()
#: Destinations an emergency department's patient is transferred to, as the gateways read them.
_TRANSFERRED_TO = frozenset({"other_hospital", "hospice"})

_HANDLERS: dict[str, Callable[[_Fold, Event], None]] = {
    "referral": _referral,
    "admission": _admission,
    "transfer": _transfer,
    "discharge": _discharge,
    "assessment": _assessment,
    "attendance": _attendance,
}
