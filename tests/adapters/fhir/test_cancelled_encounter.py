"""A `cancelled` Encounter "ended before it has begun" (FHIR R4): it withdraws, `if_present`, what
an earlier version may have published, and never retracts an admission of the same visit sent
after it. Before, it was a retraction as entered-in-error is: microsoft/FHIR-Converter's
conversion of an ADT^A27 (cancel pending admit; tests/conformance/corpus/fhir/
ms-fhir-converter__ADT-A27-01-expected.json) published five hard cancellations timed when it
was received, and the admission of the visit (its ADT^A01, ADT-A01-02) stayed retracted."""

from __future__ import annotations

import json
from typing import Any

from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.journey import Event, JourneyState, replay
from flowsight.services.validation import Accepted, validate_document
from tests.adapters.fhir.encounters import CORPUS, NOW
from tests.adapters.fhir.test_real_feeds import CONTEXT, examined
from tests.services.test_batch import SERVICES

#: RR8's profile for its FHIR-Converter feed: PV1-3 of both messages, "HUH AE OMU", a ward, and
#: the other places of the A27 (PV1-6, PV1-42) in the default service.
PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(location="HUH AE OMU", service="lth-wards")],
)
CANCEL_PENDING_ADMIT = "ms-fhir-converter__ADT-A27-01-expected.json"
ADMIT = "ms-fhir-converter__ADT-A01-02-expected.json"


def converted(name: str, last_updated: str | None = None) -> dict[str, Any]:
    """A FHIR-Converter conversion (a batch of PUTs) as the transaction an integrator posts;
    its Encounter recorded by a server at `last_updated`, if given."""
    document: dict[str, Any] = json.loads((CORPUS / name).read_text("utf-8"))
    if last_updated is not None:
        for entry in document["entry"]:
            if entry["resource"]["resourceType"] == "Encounter":
                entry["resource"]["meta"] = {"versionId": "1", "lastUpdated": last_updated}
    return document | {"type": "transaction"}


def events_of(*documents: dict[str, Any]) -> list[Event]:
    """The events the documents become, validated as the worker would take them."""
    found = []
    for document in documents:
        for accepted in examined(document, {"RR8": PROFILE}).events:
            checked = validate_document(
                accepted.event, organisation="RR8", context=CONTEXT, now=NOW
            )
            assert isinstance(checked, Accepted), checked
            found.append(checked.event)
    return found


def folded(events: list[Event]) -> JourneyState:
    """The patient's journey from `events`, ordered by event time as the tracker orders them."""
    (pseudonym,) = {event["pseudonym"] for event in events}
    return replay(pseudonym, sorted(events, key=lambda event: event["occurred_at"]), SERVICES)


def test_the_converters_cancel_pending_admit_retracts_nothing_and_says_why() -> None:
    # No meta.lastUpdated, and a Bundle.timestamp (1989) before the visit (2015): nothing dates
    # it, so a withdrawal could not be told from an admission of the visit sent after it.
    result = examined(converted(CANCEL_PENDING_ADMIT), {"RR8": PROFILE})

    assert result.events == []
    (warning,) = [issue for issue in result.notes if issue.severity == "warning"]
    assert warning.expression == "Bundle.entry[56].resource.status"
    assert "nothing is withdrawn" in warning.diagnostics


def test_replayed_before_the_visit_s_admission_it_leaves_the_admission_standing() -> None:
    events = events_of(converted(CANCEL_PENDING_ADMIT), converted(ADMIT))

    journey = folded(events)

    assert list(journey.in_services) == ["lth-wards"]
    assert journey.anomalies == []


def test_dated_it_withdraws_if_present_each_event_an_earlier_version_may_have_published() -> None:
    result = examined(
        converted(CANCEL_PENDING_ADMIT, "2015-02-08T18:00:00+05:30"), {"RR8": PROFILE}
    )

    withdrawals = [accepted.event for accepted in result.events]
    assert [(e["event_id"], e["cancels_event_id"]) for e in withdrawals] == [
        ("40007716:admission:withdrawn", "40007716:admission"),
        ("40007716:transfer:1:withdrawn", "40007716:transfer:1"),
        ("40007716:transfer:2:withdrawn", "40007716:transfer:2"),
        ("40007716:transfer:3:withdrawn", "40007716:transfer:3"),
        ("40007716:discharge:withdrawn", "40007716:discharge"),
    ]
    assert {(e["if_present"], e["occurred_at"]) for e in withdrawals} == {
        (True, "2015-02-08T18:00:00+05:30")
    }


def test_dated_it_withdraws_an_admission_recorded_before_it_and_keeps_one_recorded_after() -> None:
    cancelled = converted(CANCEL_PENDING_ADMIT, "2015-02-08T18:00:00+05:30")
    earlier = events_of(converted(ADMIT, "2015-02-08T16:00:00+05:30"), cancelled)
    later = events_of(cancelled, converted(ADMIT, "2015-02-08T19:00:00+05:30"))

    assert folded(earlier).in_services == {}
    # Withdrawals of events never sent are no anomaly: the sender said they may not exist.
    assert (list(folded(later).in_services), folded(later).anomalies) == (["lth-wards"], [])
