"""A patient's next step for the caseload: the latest word of a referral or an assessment, a
criteria-to-reside review's among them (it is kept on the stay it reviewed)."""

from __future__ import annotations

from typing import Any

from flowsight.services.facts import Stay, latest_next_step
from flowsight.services.journey import JourneyState
from tests.services.test_journey import admission, at, event, referral, state_after

REVIEWED = "IV antibiotics until Thursday;\nthen review for discharge home"


def review(event_id: str, hours: float, meets: bool, **extra: Any) -> dict[str, Any]:
    return event(
        "assessment",
        event_id,
        hours,
        "lth-wards",
        kind="ctr_review",
        status="completed",
        meets_criteria_to_reside=meets,
        **extra,
    )


def said(state: JourneyState) -> tuple[str, Any] | None:
    return latest_next_step(state.referrals, state.assessments, state.stays)


def test_a_criteria_to_reside_reviews_next_step_is_the_patients_next_step() -> None:
    for meets in (True, False):  # whether or not it starts a delay
        state = state_after(
            admission("adm-1", 0, "lth-wards"), review("rev-1", 20, meets, next_step=REVIEWED)
        )

        [stay] = state.stays
        assert (stay.next_step, stay.reviewed_at) == (REVIEWED, at(20))
        found = said(state)
        assert found is not None and found[0] == REVIEWED
        assert isinstance(found[1], Stay) and found[1].service == "lth-wards"


def test_the_latest_word_wins_between_reviews_and_referrals() -> None:
    admitted = admission("adm-1", 0, "lth-wards")
    onward = referral(
        "ref-1", 30, "lcc-reablement", service="lth-wards", next_step="Reablement from Monday"
    )
    earlier = state_after(admitted, review("rev-1", 20, False, next_step=REVIEWED), onward)
    later = state_after(admitted, onward, review("rev-1", 40, False, next_step=REVIEWED))

    assert (found := said(earlier)) is not None and found[0] == "Reablement from Monday"
    assert (found := said(later)) is not None and found[0] == REVIEWED


def test_a_later_review_without_a_next_step_keeps_the_earlier_one() -> None:
    state = state_after(
        admission("adm-1", 0, "lth-wards"),
        review("rev-1", 20, False, next_step=REVIEWED),
        review("rev-2", 44, False),
    )

    # Its word as of the latest review, as an assessment's as of its last event.
    [stay] = state.stays
    assert (stay.next_step, stay.reviewed_at) == (REVIEWED, at(44))
