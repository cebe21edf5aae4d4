"""The simulated city: valid events only, and a restarted simulator replays the same city."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.catalogue import load_catalogue
from flowsight.devtools.simulator.model import City
from flowsight.devtools.simulator.run import CityRun
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
START = datetime(2026, 11, 1, tzinfo=UTC)


def events(days: float, seed: int = 5) -> list[dict[str, object]]:
    return list(
        City(CATALOGUE, START, seed=seed, volume=1).events_until(START + timedelta(days=days))
    )


def test_every_simulated_event_meets_the_contract_and_each_type_appears() -> None:
    context = ValidationContext(CATALOGUE, b"simulator-test-key-0123456789abcdef", timedelta(0))
    made = events(8)
    refused = [
        (event, outcome)
        for event in made
        if not isinstance(
            outcome := validate_document(
                event,
                organisation=str(event["source"]).split("/")[0],
                context=context,
                now=START + timedelta(days=9),
            ),
            Accepted,
        )
    ]
    assert refused == []
    kinds = Counter(str(e["event_type"]) for e in made)
    assert {"attendance", "admission", "referral", "assessment", "discharge", "capacity"} <= set(
        kinds
    )
    # Roughly a city: ~400 ED attendances a day, each published on arrival and on departure.
    assert 5000 < kinds["attendance"] < 8000


def test_the_same_run_replays_the_same_events() -> None:
    assert events(2) == events(2)
    assert events(2) != events(2, seed=6)


def test_a_restarted_simulator_resumes_its_recorded_city(tmp_path: Path) -> None:
    path = tmp_path / "simulator-flowsight.json"
    first, resumed = CityRun.resume_or_begin(
        path, history=timedelta(days=7), volume=1, seed=None, fresh=False
    )
    assert not resumed and path.exists()
    again, resumed = CityRun.resume_or_begin(
        path, history=timedelta(days=1), volume=3, seed=None, fresh=False
    )
    assert resumed and again == first
    new, resumed = CityRun.resume_or_begin(
        path, history=timedelta(days=1), volume=3, seed=9, fresh=True
    )
    assert not resumed and new.seed == 9 and new.volume == 3 and new.start > first.start
