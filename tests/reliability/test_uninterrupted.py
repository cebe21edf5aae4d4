"""The run every fault is compared with must itself be clean, or no comparison means anything."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Plan

pytestmark = pytest.mark.integration


def test_the_uninterrupted_run_dead_letters_only_the_refused_events(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["uninterrupted"]
    assert not outcome.problems, outcome.summary()
    plan = Plan()
    assert outcome.dead_letters == plan.events // plan.refusal_every, (
        "one dead letter per event naming an unknown service, and no other"
    )
    assert (outcome.raw_dead_letter_repeats, outcome.alerts_duplicated) == (0, 0)
