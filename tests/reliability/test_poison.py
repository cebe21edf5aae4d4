"""Poison records, valid JSON published straight to the events topic by an older or broken
producer: each dead-lettered with the exception as its reason, the partition moving on, the agent
never dying, the events after them applied (figures identical to the uninterrupted run)."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome

pytestmark = pytest.mark.integration


def test_records_the_fold_cannot_record_are_dead_lettered_and_the_stream_goes_on(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["poison"]
    assert outcome.injected == 3, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert outcome.harmless, outcome.summary()


def test_a_record_the_fold_cannot_replay_is_dead_lettered_and_the_stream_goes_on(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["poison-replay"]
    assert outcome.injected == 1, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert outcome.harmless, outcome.summary()
