"""`bench replay`'s verdict: identical only when the read models and the dead letters agree."""

from __future__ import annotations

from collections import Counter

from flowsight.devtools.bench.replay import Build, replay_report

ROWS = {"stays": [("'lth-wards'", "'2026-05-01'")]}


def verdict(live: Build, replay: Build) -> str:
    lines = replay_report(live, replay, 1.0, 100, 3, 1).lines()
    return next(line for line in lines if "read model compared" in line)


def test_the_same_rows_and_the_same_dead_letters_are_identical() -> None:
    refused = Counter({"too_late": 2})
    live, replay = Build("live", 10, ROWS, refused), Build("replay", 5, ROWS, Counter(refused))

    assert verdict(live, replay).endswith("identical")


def test_a_replay_that_refused_other_events_is_different_even_with_the_same_rows() -> None:
    live = Build("live", 10, ROWS)
    replay = Build("replay", 5, ROWS, Counter({"too_late": 3}))

    assert "DIFFERENT: dead letters: live none, replay 3 too_late" in verdict(live, replay)
