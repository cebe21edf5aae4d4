"""A patient's events in any arrival order, duplicated and batched (hypothesis), folded as the
worker folds them, and the figures of every service they give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services.batch import apply_batch
from flowsight.services.journey import Event, JourneyState, ServiceMap
from flowsight.services.kpis import Period, ServiceFacts, service_figures
from flowsight.services.timestamps import utc_timestamp
from flowsight.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
SERVICES = ServiceMap.of(CATALOGUE)
START = datetime(2026, 3, 26, 8, 0, tzinfo=UTC)  # spans the clock change of 29 March
LATENESS = timedelta(days=7)
OWNER = {
    s.id: {"RR8": "RR8/pas", "RY6": "RY6/systmone", "LCC": "LCC/mosaic"}[s.organisation]
    for s in CATALOGUE.services
}
BEDDED = ["lth-wards", "lch-community-beds"]
ANY_SERVICE = ["lth-wards", "lch-community-beds", "lcc-reablement", "lch-ucr", "lcc-home-care"]

minutes = st.integers(min_value=0, max_value=6 * 24 * 60)  # inside the 7-day window


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A random but contract-shaped sequence of one patient's events, some cancelled."""
    made: list[dict[str, Any]] = []
    for number in range(draw(st.integers(min_value=1, max_value=14))):
        kind = draw(
            st.sampled_from(
                [
                    "referral",
                    "admission",
                    "discharge",
                    "transfer",
                    "ctr_review",
                    "assessment",
                    "attendance",
                    "cancellation",
                ]
            )
        )
        service = draw(st.sampled_from(ANY_SERVICE))
        when = START + timedelta(minutes=draw(minutes))
        body: dict[str, Any] = {
            "event_id": f"e{number}",
            "event_type": kind,
            "source": OWNER[service],
            "occurred_at": utc_timestamp(when),
            "service": service,
            "episode_id": "EP-1",
            "pseudonym": "p" * 64,
        }
        if kind == "referral":
            body["to_service"] = draw(st.sampled_from(ANY_SERVICE))
            body["status"] = draw(st.sampled_from(["new", "accepted", "declined", "withdrawn"]))
            body["pathway"] = draw(st.sampled_from(["P1", "P2", "P3"]))
        elif kind == "admission":
            body["admission_method"] = draw(st.sampled_from(["emergency", "start_of_care"]))
            body["care_hours_per_week"] = draw(st.sampled_from([None, 7.0, 14.0]))
        elif kind == "discharge":
            body["destination"] = draw(st.sampled_from(["usual_residence", "care_home_nursing"]))
            body["independent"] = draw(st.booleans())
        elif kind == "transfer":
            body["service"] = body["from_service"] = draw(st.sampled_from(BEDDED))
            body["source"] = OWNER[body["service"]]
            body["to_service"] = draw(st.sampled_from(ANY_SERVICE))
        elif kind == "ctr_review":
            body.update(event_type="assessment", kind="ctr_review", status="completed")
            body["service"] = draw(st.sampled_from(BEDDED))
            body["source"] = OWNER[body["service"]]
            body["meets_criteria_to_reside"] = draw(st.booleans())
            body["delay_reason"] = "p2_awaiting_bed"
            if draw(st.booleans()):
                ready = when - timedelta(minutes=draw(st.integers(0, 600)))
                body["discharge_ready_at"] = utc_timestamp(ready)
        elif kind == "assessment":
            body.update(kind="care_act", status=draw(st.sampled_from(["open", "completed"])))
        elif kind == "attendance":
            body["service"], body["source"] = "lth-ed", "RR8/pas"
            body["episode_id"] = f"ED-{draw(st.integers(0, 2))}"
            body["arrived_at"] = body["occurred_at"]
            if draw(st.booleans()):
                body["departed_at"] = utc_timestamp(
                    when + timedelta(minutes=draw(st.integers(0, 600)))
                )
        elif kind == "cancellation":
            if not made:
                continue
            target = draw(st.sampled_from(made))
            body["source"], body["service"] = target["source"], target["service"]
            body["cancels_event_id"] = target["event_id"]
        made.append(body)
    return made


def fold(arrivals: list[dict[str, Any]], cuts: list[int] | None = None) -> JourneyState:
    """The patient's state once the worker folded `arrivals`, in batches split at `cuts`."""
    stored: dict[str, list[Event]] = {}
    state = JourneyState("p" * 64)
    bounds = [0, *sorted(cuts or []), len(arrivals)]
    for start, end in pairwise(bounds):
        changes = apply_batch(arrivals[start:end], stored.get, lambda _: None, LATENESS, SERVICES)
        assert not changes.refusals  # none too late, none failed
        stored.update((p, journey.to_stored()) for p, journey in changes.journeys.items())
        state = next(iter(changes.states), state)
    return state


def figures(state: JourneyState) -> dict[str, Any]:
    period = Period(START, START + timedelta(days=7))
    by_service = {}
    for service in CATALOGUE.services:
        facts = ServiceFacts(
            [s for s in state.stays if s.service == service.id],
            [d for d in state.delays if d.service == service.id],
            [r for r in state.referrals if r.to_service == service.id],
            [a for a in state.attendances if a.service == service.id],
            [a for a in state.assessments if a.service == service.id],
        )
        by_service[service.id] = service_figures(service, facts, period, START + timedelta(days=5))
    return by_service
