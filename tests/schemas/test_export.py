"""The JSON Schema files integration teams validate against are the contract the code enforces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from flowsight.schemas.export import contract_schemas, render
from tests.schemas.examples import SPEC_EVENT_TYPES, example

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json"


def test_the_committed_schema_files_match_the_models() -> None:
    generated = contract_schemas()
    committed = {path.name for path in COMMITTED.glob("*.schema.json")}
    assert committed == set(generated), "run `flowsight schema export schemas/json`"
    for name, document in generated.items():
        assert (COMMITTED / name).read_text(encoding="utf-8") == render(document), (
            f"{name} is out of date: run `flowsight schema export schemas/json`"
        )


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_each_type_has_its_schema_with_its_required_fields(event_type: str) -> None:
    document = json.loads((COMMITTED / f"{event_type}.schema.json").read_text())
    assert document["properties"]["event_type"]["const"] == event_type
    assert {"event_id", "source", "occurred_at", "service", "event_type"} <= set(
        document["required"]
    )
    assert set(example(event_type)) <= set(document["properties"])


@pytest.mark.parametrize("event_type", SPEC_EVENT_TYPES)
def test_an_integration_team_validating_with_the_schema_agrees_with_the_service(
    event_type: str,
) -> None:
    validator = Draft202012Validator(json.loads((COMMITTED / "event.schema.json").read_text()))
    assert list(validator.iter_errors(example(event_type))) == []
    broken = {**example(event_type), "event_type": "admision"}
    assert list(validator.iter_errors(broken)), "a misspelt type fails the schema too"
    missing = {k: v for k, v in example(event_type).items() if k != "occurred_at"}
    assert list(validator.iter_errors(missing)), "a missing occurred_at fails the schema too"
