"""When each scope was scored, as the pressure step records it: scores closer together than the
time a score stands for carry one run on, a longer gap starts another, and a scope scored with
no level (nothing to score) is not scored. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsight.adapters.readmodel import pressure
from flowsight.services.level_time import ScoredRun
from flowsight.services.pressure import Cutoffs
from flowsight.streams.pressure import PressurePolicy, assess_pressure
from tests.adapters.readmodel.model import CATALOGUE, ReadModel

T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
WITHIN = timedelta(minutes=3)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


async def test_scores_make_runs_and_a_gap_ends_one(database_url: str) -> None:
    model = await ReadModel.at(database_url)
    try:
        async with model.engine.begin() as connection:
            for n in (0, 2, 4, 10):
                await pressure.record_scored(connection, ["lth-ed", "system"], minutes(n), WITHIN)
            await pressure.record_scored(connection, ["system"], minutes(12), WITHIN)
        async with model.engine.connect() as connection:
            runs = await pressure.scored_runs(connection, minutes(0), minutes(60))
            later = await pressure.scored_runs(connection, minutes(14), minutes(60))
    finally:
        await model.close()
    assert sorted(runs, key=lambda r: (r.scope, r.since)) == [
        ScoredRun("lth-ed", minutes(0), minutes(7)),
        ScoredRun("lth-ed", minutes(10), minutes(13)),
        ScoredRun("system", minutes(0), minutes(7)),
        ScoredRun("system", minutes(10), minutes(15)),
    ]
    assert later == [ScoredRun("system", minutes(10), minutes(15))]


async def test_a_scope_with_nothing_to_score_has_no_run(database_url: str) -> None:
    policy = PressurePolicy(Cutoffs(), timedelta(minutes=30), {}, [])
    figures = {s.id: {"queue_length": 0} for s in CATALOGUE.services if s.id != "lch-ucr"}
    model = await ReadModel.at(database_url)
    try:
        for n in (0, 2):
            await assess_pressure(model.engine, CATALOGUE, figures, policy, minutes(n))
        async with model.engine.connect() as connection:
            runs = await pressure.scored_runs(connection, minutes(0), minutes(60))
    finally:
        await model.close()
    scopes = {run.scope for run in runs}
    assert "lch-ucr" not in scopes and {"system", "lth-ed"} <= scopes
    assert all(run == ScoredRun(run.scope, minutes(0), minutes(5)) for run in runs)
