"""A spell published as an inpatient stay and later sent as a visit that holds no bed (class AMB:
an admission corrected to a ward attendance) frees its bed. Before, the later version published
nothing and the admission stayed in effect for good: a phantom patient on the ward."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.fhir.terminology import HL7_ACT_CODE
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.validation import Accepted, validate_document
from tests.adapters.fhir.encounters import NOW, encounter
from tests.adapters.fhir.test_real_feeds import CONTEXT, examined
from tests.services.test_batch import Worker

PROFILE = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(location="WARD*", service="lth-wards")],
)
WARD = [
    {
        "location": {"display": "WARD 12"},
        "status": "active",
        "period": {"start": "2025-03-10T09:40:00+00:00"},
    }
]
LATER = {"versionId": "2", "lastUpdated": "2025-03-10T11:00:00+00:00"}


def as_visit(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same spell sent again as an ambulatory visit, without admission details."""
    visit = {**document, "class": {"system": HL7_ACT_CODE, "code": "AMB"}, **changes}
    del visit["hospitalization"]
    return visit


def published(document: dict[str, Any]) -> list[tuple[str, str]]:
    events = examined(document, {"RR8": PROFILE}).events
    return [(e.event["event_type"], e.event.get("cancels_event_id", "")) for e in events]


def test_an_admission_sent_again_as_a_ward_attendance_is_retracted() -> None:
    admitted = encounter(location=WARD)
    assert published(admitted) == [("admission", "")]

    retracted = published(as_visit(admitted, meta=LATER))

    assert ("cancellation", "SPELL-55123:admission") in retracted
    assert {kind for kind, _ in retracted} == {"cancellation"}


def test_the_retraction_is_timed_by_the_version_so_a_later_admitting_version_counts_again() -> None:
    result = examined(as_visit(encounter(location=WARD), meta=LATER), {"RR8": PROFILE})

    assert {e.event["occurred_at"] for e in result.events} == {LATER["lastUpdated"]}
    assert [note.expression for note in result.notes] == ["Encounter.class"]
    assert "is retracted" in (result.notes[0].diagnostics or "")


def test_an_undated_visit_retracts_nothing() -> None:
    # Without meta.lastUpdated a later version that admits would not count again.
    assert published(as_visit(encounter(location=WARD), meta=None)) == []


def test_a_visit_at_a_place_no_rule_knows_retracts_nothing() -> None:
    clinic = [{**WARD[0], "location": {"display": "Cardiology clinic"}}]

    assert published(as_visit(encounter(location=clinic), meta=LATER)) == []


def test_folded_the_bed_is_free_and_a_later_admitting_version_takes_it_again() -> None:
    admitted = encounter(location=WARD)
    versions = [
        admitted,
        as_visit(admitted, meta=LATER),
        {**admitted, "meta": {"versionId": "3", "lastUpdated": "2025-03-10T12:00:00+00:00"}},
    ]
    worker, in_services = Worker(), []
    for version in versions:
        mapped = [accepted.event for accepted in examined(version, {"RR8": PROFILE}).events]
        validated = [
            validate_document(event, organisation="RR8", context=CONTEXT, now=NOW)
            for event in mapped
        ]
        changes = worker.fold(*[event.event for event in validated if isinstance(event, Accepted)])
        in_services.append([sorted(state.in_services) for state in changes.states])

    assert in_services == [[["lth-wards"]], [[]], [["lth-wards"]]]
