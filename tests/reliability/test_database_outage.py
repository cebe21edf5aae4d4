"""The read model unavailable mid-stream (SQLite: another connection holding an exclusive
transaction past the 30 s busy timeout): the sink retries and catches up, and the API never
answers 500 (a refusal is 503 problem details)."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome

pytestmark = pytest.mark.integration


def test_a_read_model_outage_is_retried_and_caught_up(faults: dict[str, Outcome]) -> None:
    outcome = faults["database"]
    assert outcome.injected == 1, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert (outcome.lost, outcome.applied_twice) == (0, 0), outcome.summary()
    assert outcome.harmless, outcome.summary()
