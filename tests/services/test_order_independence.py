"""Order does not matter: any arrival order of a patient's events within the lateness window,
with any duplicates, in batches of any size, gives the same journey, queues, delays and service
figures."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.services.arrivals import events, figures, fold


@settings(max_examples=300, deadline=None)
@given(events(), st.randoms(use_true_random=False), st.data())
def test_any_arrival_order_with_duplicates_in_any_batches_gives_the_same_journey_and_figures(
    made: list[dict[str, Any]], rng: Any, data: st.DataObject
) -> None:
    in_order = fold(sorted(made, key=lambda e: (e["occurred_at"], e["event_id"])))
    duplicates = data.draw(st.lists(st.sampled_from(made), max_size=5)) if made else []
    arrivals = made + duplicates
    rng.shuffle(arrivals)
    cuts = data.draw(st.lists(st.integers(0, len(arrivals)), max_size=4))
    shuffled = fold(arrivals, cuts)
    assert shuffled == in_order
    assert figures(shuffled) == figures(in_order)
