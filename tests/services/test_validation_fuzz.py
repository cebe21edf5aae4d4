"""Whatever arrives on an ingest topic, the validator answers: accepted, or refused with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowsight.adapters.catalogue import load_catalogue
from flowsight.services import validation
from flowsight.services.validation import Accepted, Rejected, ValidationContext, validate_event
from flowsight.settings import DEFAULT_CATALOGUE
from tests.fuzzing import malformed_events
from tests.schemas.examples import SPEC_EVENT_TYPES, example

CONTEXT = ValidationContext(
    load_catalogue(DEFAULT_CATALOGUE), b"fuzz-pseudonym-key-0123456789abcdef", timedelta(minutes=5)
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REASONS = validation.REASONS
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def outcome_of(raw: bytes) -> Accepted | Rejected:
    outcome = validate_event(raw, organisation="RR8", context=CONTEXT, now=NOW)
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Rejected):
        assert outcome.reason in REASONS and outcome.message
    return outcome


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_get_an_answer(raw: bytes) -> None:
    outcome_of(raw)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SPEC_EVENT_TYPES), st.sampled_from(["drop", "set"]), st.data(), json_values)
def test_any_one_field_broken_gets_an_answer(
    event_type: str, how: str, data: st.DataObject, value: Any
) -> None:
    event = example(event_type)
    field = data.draw(st.sampled_from(sorted(event)))
    if how == "drop":
        del event[field]
    else:
        event[field] = value
    outcome_of(json.dumps(event).encode())


def test_a_thousand_malformed_events_are_each_refused_or_accepted() -> None:
    outcomes = [outcome_of(raw) for raw in malformed_events(1000)]
    refused = [o for o in outcomes if isinstance(o, Rejected)]
    assert len(refused) > 900, "the mutations break events"
    assert len({o.reason for o in refused}) >= 8, "in many different ways"
