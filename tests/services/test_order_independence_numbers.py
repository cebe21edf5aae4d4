"""Order does not matter for the numbers either: ward moves, deaths, corrected Discharge Ready
Dates, hidden delays at home and readmissions by transfer give the same journey and figures in
any arrival order, with any duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.services.kpis import Period, ServiceFacts, system_figures
from flowsight.services.timestamps import utc_timestamp
from tests.services.arrivals import CATALOGUE, OWNER, START, figures, fold

WARDS, BEDS, REABLEMENT, HUB = "lth-wards", "lch-community-beds", "lcc-reablement", "lth-toc-hub"
minutes = st.integers(min_value=0, max_value=6 * 24 * 60)


@st.composite
def journeys(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One patient's events around a hospital stay: moves, reviews, referrals, maybe a death."""
    made: list[dict[str, Any]] = []
    for number in range(draw(st.integers(min_value=1, max_value=12))):
        kind = draw(
            st.sampled_from(
                ["admission", "ward_move", "transfer", "review", "referral", "assessment", "death"]
            )
        )
        when = START + timedelta(minutes=draw(minutes))
        service = draw(st.sampled_from([WARDS, BEDS, REABLEMENT]))
        body: dict[str, Any] = {
            "event_id": f"n{number}",
            "event_type": kind,
            "occurred_at": utc_timestamp(when),
            "service": service,
            "episode_id": "EP-1",
            "pseudonym": "p" * 64,
        }
        if kind == "admission":
            body["admission_method"] = draw(st.sampled_from(["emergency", "start_of_care"]))
        elif kind == "ward_move":
            body.update(event_type="transfer", service=WARDS, from_service=WARDS, to_service=WARDS)
            body["to_unit"] = draw(st.sampled_from(["J16", "J32"]))
        elif kind == "transfer":
            body["from_service"] = service
            body["to_service"] = draw(st.sampled_from([WARDS, BEDS, REABLEMENT]))
        elif kind == "review":
            body.update(event_type="assessment", kind="ctr_review", status="completed")
            body["meets_criteria_to_reside"] = draw(st.booleans())
            body["pathway"] = draw(st.sampled_from(["P1", "P2"]))
            if draw(st.booleans()):  # a DRD, possibly a correction, before or after the review
                ready = when + timedelta(minutes=draw(st.integers(-3000, 3000)))
                body["discharge_ready_at"] = utc_timestamp(ready)
        elif kind == "referral":
            body["to_service"] = draw(st.sampled_from([BEDS, REABLEMENT, HUB]))
            body["status"] = draw(st.sampled_from(["new", "accepted", "declined"]))
            body["pathway"] = draw(st.sampled_from(["P1", "P2"]))
        elif kind == "assessment":
            body.update(service=HUB, kind="care_act")
            body["status"] = draw(st.sampled_from(["open", "completed"]))
        elif kind == "death":
            body.update(event_type="discharge", destination="died")
        body["source"] = OWNER[body["service"]]
        made.append(body)
    return made


def system(state: Any) -> dict[str, Any]:
    facts = {
        s.id: ServiceFacts(
            [x for x in state.stays if x.service == s.id],
            [d for d in state.delays if d.service == s.id],
            [r for r in state.referrals if r.to_service == s.id],
            [],
            [a for a in state.assessments if a.service == s.id],
        )
        for s in CATALOGUE.services
    }
    period = Period(START, START + timedelta(days=7))
    return system_figures(CATALOGUE.services, facts, period, START + timedelta(days=5))


@settings(max_examples=300, deadline=None)
@given(journeys(), st.randoms(use_true_random=False), st.data())
def test_moves_deaths_and_corrections_give_the_same_numbers_in_any_order(
    made: list[dict[str, Any]], rng: Any, data: st.DataObject
) -> None:
    in_order = fold(sorted(made, key=lambda e: (e["occurred_at"], e["event_id"])))
    arrivals = made + data.draw(st.lists(st.sampled_from(made), max_size=4))
    rng.shuffle(arrivals)
    shuffled = fold(arrivals)
    assert shuffled == in_order
    assert figures(shuffled) == figures(in_order)
    assert system(shuffled) == system(in_order)
