"""`kill -9` of the worker at random points, ten times in one run, while events stream.

A killed worker leaves its group only when its session expires (10 s), unless static membership
lets its successor take its place at once; the test holds either way: each kill comes a random
moment after the (re)started worker was seen processing, and the time that took is reported."""

from __future__ import annotations

import pytest

from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Plan

pytestmark = pytest.mark.integration


def test_ten_kills_lose_nothing_and_apply_nothing_twice(faults: dict[str, Outcome]) -> None:
    outcome = faults["kill"]
    assert outcome.injected == Plan().kills, outcome.summary()
    assert outcome.identical, outcome.summary()
    assert (outcome.lost, outcome.applied_twice) == (0, 0), outcome.summary()
    assert outcome.harmless, outcome.summary()


def test_no_alert_is_delivered_twice_across_the_kills(faults: dict[str, Outcome]) -> None:
    outcome = faults["kill"]
    assert outcome.alerts_duplicated == 0, outcome.summary()


def test_flowsight_dlq_lists_each_refused_event_once_across_the_kills(
    faults: dict[str, Outcome],
) -> None:
    outcome = faults["kill"]
    assert outcome.dead_letters_duplicated == 0, outcome.summary()
    assert outcome.dead_letters == faults["uninterrupted"].dead_letters, (
        "the same refused events as the uninterrupted run, however often a killed worker "
        f"dead-lettered one again ({outcome.raw_dead_letter_repeats} raw repeat(s) on the topic)"
    )
