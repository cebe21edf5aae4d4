"""A tenth of the deliveries duplicated and every delivery shuffled within the lateness window:
the fold absorbs each repeat by its source and event id and orders each journey by event time."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Plan

pytestmark = pytest.mark.integration


def test_duplicated_and_shuffled_deliveries_give_identical_figures(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["duplicates"]
    plan = Plan()
    assert outcome.injected >= plan.events * plan.duplicate_share, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert (outcome.lost, outcome.applied_twice) == (0, 0), outcome.summary()
    assert outcome.harmless, outcome.summary()
