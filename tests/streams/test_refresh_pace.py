"""How long the refresh waits after a change: promptly when caught up, behind a backlog not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from flowsight.streams.agents import Backlog
from flowsight.streams.tasks.refresh import (
    BACKLOG_BATCHES_PER_REFRESH,
    BACKLOG_SECONDS,
    CAUGHT_UP_SECONDS,
    COALESCE_SECONDS,
    pause,
)


def test_a_change_after_a_quiet_spell_waits_only_for_the_rest_of_its_burst() -> None:
    assert pause(took=0.4, idle=60, behind=False) == COALESCE_SECONDS
    assert pause(took=0.4, idle=60, behind=True) == COALESCE_SECONDS


def test_caught_up_the_next_refresh_waits_as_long_as_the_last_took_and_a_second_at_least() -> None:
    # Under a steady flow, figures follow a change within a second and a refresh or two, and
    # the refreshes take at most half the worker.
    assert pause(took=1.6, idle=0.1, behind=False) == pytest.approx(1.5)
    assert pause(took=0.4, idle=0.1, behind=False) == pytest.approx(CAUGHT_UP_SECONDS - 0.1)
    assert pause(took=0.01, idle=CAUGHT_UP_SECONDS, behind=False) == COALESCE_SECONDS


def test_caught_up_figures_computed_beside_the_loop_do_not_delay_the_next_refresh() -> None:
    # 1.3 s of a 1.6 s refresh were the figures' process computing: the loop was held 0.3 s.
    assert pause(took=1.6, idle=0.0, behind=False, beside=1.3) == CAUGHT_UP_SECONDS
    assert pause(took=2.5, idle=0.0, behind=False, beside=0.5) == pytest.approx(2.0)


def test_behind_a_backlog_the_figures_beside_the_loop_count_too() -> None:
    # They share the machine with the broker and the batches: a replay paces them on the whole.
    assert pause(took=1.0, idle=0.0, behind=True, beside=0.9) == BACKLOG_BATCHES_PER_REFRESH * 1.0


def test_behind_a_backlog_the_batches_go_first() -> None:
    assert pause(took=0.4, idle=0.1, behind=True) == pytest.approx(BACKLOG_SECONDS - 0.1)
    took = BACKLOG_SECONDS  # a refresh slowed by the backlog's batches
    assert pause(took=took, idle=0.0, behind=True) == BACKLOG_BATCHES_PER_REFRESH * took


def taken(*offsets: tuple[int, int]) -> list[Any]:
    """A batch of events at these (partition, offset)s of the events topic."""
    return [
        SimpleNamespace(message=SimpleNamespace(tp=TP("events", partition), offset=offset))
        for partition, offset in offsets
    ]


def test_an_agent_is_behind_while_a_full_batch_waits_after_the_one_it_took() -> None:
    highwaters = {TP("events", 0): 300, TP("events", 1): 200}
    backlog = Backlog(highwaters.get)
    # Partition 0 has 99 events after offset 200, partition 1 has 0 after 199: 99 waiting.
    backlog.batch("tracker", taken((0, 150), (0, 200), (1, 199)), most=100)
    assert backlog.behind is False
    backlog.batch("tracker", taken((0, 199), (1, 199)), most=100)  # 100 waiting
    assert backlog.behind is True
    # Caught up, whatever its batch's size; behind while any agent is.
    backlog.batch("tracker", taken((0, 299)), most=1)
    assert backlog.behind is False
    backlog.batch("validator", taken((1, 0)), most=100)
    assert backlog.behind is True


def test_a_partition_whose_end_is_not_known_counts_as_caught_up() -> None:
    backlog = Backlog(lambda tp: None)
    backlog.batch("tracker", taken((0, 5)), most=1)
    assert backlog.behind is False
