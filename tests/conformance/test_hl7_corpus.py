"""Every HL7 v2 file of the conformance corpus gives its expected ACK, events or refusal."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.check import Checker, Outcome
from flowsight.adapters.profile import default_profile
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE

HERE = Path(__file__).parent
CORPUS = HERE / "corpus" / "hl7"
EXPECTED: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (HERE / "expected_hl7.yaml").read_text(encoding="utf-8")
)
_KEPT = (
    "event_type",
    "service",
    "admission_method",
    "destination",
    "outcome",
    "to_service",
    "unit",
)


@pytest.fixture(scope="module")
def context() -> ValidationContext:
    return ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))


def checked(path: Path, context: ValidationContext, ids: frozenset[str]) -> list[Outcome]:
    checker = Checker("RR8", default_profile("RR8", "lth-wards"), context, ids)
    return checker.check_bytes(path.read_bytes())


def as_expected(outcome: Outcome) -> dict[str, Any]:
    found: dict[str, Any] = {"ack": outcome.ack}
    if outcome.events or outcome.ignored:
        found["events"] = [{k: v for k, v in e.items() if k in _KEPT} for e in outcome.events]
    if outcome.refusal is not None:
        found["refused"] = {"reason": outcome.refusal.reason, "field": outcome.refusal.field}
    return found


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.hl7")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_corpus_file_gives_its_expected_outcome(name: str, context: ValidationContext) -> None:
    outcomes = checked(CORPUS / name, context, frozenset({"P", "T", "D"}))
    assert [as_expected(o) for o in outcomes] == EXPECTED[name]


def test_test_and_debug_feeds_are_refused_ar_unless_allowed(context: ValidationContext) -> None:
    (outcome,) = checked(
        CORPUS / "lfh-hl7v2-fhir-converter__sample_unix.hl7", context, frozenset({"P"})
    )
    assert outcome.ack == "AR" and outcome.refusal is not None
    assert outcome.refusal.reason == "hl7_unsupported_processing_id"
