"""An emergency Encounter (class EMER) at a place no rule of the sender's profile knows is an
attendance at its organisation's emergency department, as the HL7 v2 gateway reads class E at a
location only the default service places. A trust's first FHIR feed, its locations not yet mapped,
showed every ED arrival as a ward admission, and a finished one as a stay of an hour on a ward:
the four-hour clock and the department's queue were lost."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.encounter import Encounter

from flowsight.adapters.fhir.mapping import map_encounter
from flowsight.adapters.fhir.snapshot import MappedEncounter
from flowsight.adapters.fhir.terminology import HL7_ACT_CODE
from flowsight.adapters.profile import LocationRule, MappingProfile
from flowsight.services.validation import Rejected
from tests.adapters.fhir.encounters import NOW, encounter, finished
from tests.adapters.fhir.test_real_feeds import examined

EMER = {"system": HL7_ACT_CODE, "code": "EMER"}
#: A trust's profile before its locations are mapped: everything to the wards, one rule for a ward.
UNMAPPED = MappingProfile(
    organisation="RR8",
    default_service="lth-wards",
    locations=[LocationRule(location="WARD*", service="lth-wards")],
)
FRONT = {
    "location": {"display": "HOLY FAMILY HOSPITAL"},
    "status": "completed",
    "period": {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T13:05:00+00:00"},
}
WARD = {
    "location": {"display": "WARD 12"},
    "status": "active",
    "period": {"start": "2025-03-10T13:05:00+00:00"},
}


def emergency(document: dict[str, Any]) -> dict[str, Any]:
    document = {**document, "class": EMER}
    del document["hospitalization"]  # an ED's Encounter gives no admission details
    return document


def published(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    result = examined(document, {"RR8": UNMAPPED})
    return [
        (e.event["event_type"], e.event["service"], e.event.get("outcome", ""))
        for e in result.events
    ]


def test_an_emergency_arrival_at_an_unmapped_place_is_an_attendance_at_the_department() -> None:
    arrived = emergency(encounter(status="arrived", location=[{**FRONT, "status": "active"}]))

    assert published(arrived) == [("attendance", "lth-ed", "")]
    warnings = [note.diagnostics or "" for note in examined(arrived, {"RR8": UNMAPPED}).notes]
    assert "class EMER at a place no rule knows: the emergency department 'lth-ed'" in warnings


def test_an_emergency_class_of_hl7_v2s_table_is_read_as_emer() -> None:
    # Oracle Health (Cerner) sends table 0004's E where no v3 code is mapped: it was a stay on
    # the default ward, with a warning of an unknown class.
    arrived = emergency(encounter(status="arrived", location=[{**FRONT, "status": "active"}]))
    arrived["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "E"}

    assert published(arrived) == [("attendance", "lth-ed", "")]


def test_a_finished_emergency_encounter_is_an_attendance_and_its_end_not_a_ward_stay() -> None:
    document = emergency(finished(location=[FRONT]))
    document["period"] = {"start": "2025-03-10T09:40:00+00:00", "end": "2025-03-10T13:05:00+00:00"}

    assert published(document) == [
        ("attendance", "lth-ed", ""),
        ("attendance", "lth-ed", "discharged"),
    ]


def test_a_move_on_to_a_mapped_ward_is_the_admission_from_the_department() -> None:
    document = emergency(encounter(location=[FRONT, WARD]))

    assert published(document) == [
        ("attendance", "lth-ed", ""),
        ("attendance", "lth-ed", "admitted"),
        ("admission", "lth-wards", ""),
    ]


def test_a_mapped_ward_is_a_ward_whatever_the_class() -> None:
    # Some systems keep EMER on the spell once the patient is admitted.
    document = emergency(encounter(location=[{**WARD, "period": FRONT["period"]}]))

    assert published(document) == [("admission", "lth-wards", "")]


def test_retracting_an_emergency_encounter_cancels_its_attendance() -> None:
    document = emergency(finished(location=[FRONT], status="entered-in-error"))

    cancelled = [e.event["cancels_event_id"] for e in examined(document, {"RR8": UNMAPPED}).events]

    assert cancelled == ["SPELL-55123:attendance", "SPELL-55123:attendance:departure"]


def test_an_inpatient_encounter_at_an_unmapped_place_is_still_an_admission() -> None:
    document = encounter(location=[{**FRONT, "status": "active"}])

    assert published(document) == [("admission", "lth-wards", "")]


def arriving_with(departments: set[str]) -> MappedEncounter | Rejected:
    """An emergency arrival at an unmapped place, at an organisation with `departments`."""
    document = emergency(encounter(location=[{**FRONT, "status": "active"}]))
    return map_encounter(
        Encounter.model_validate(document),
        organisation="RR8",
        now=NOW,
        profiles={"RR8": UNMAPPED},
        services={"lth-wards", *departments},
        departments=lambda _: departments,
    )


def test_several_departments_need_the_place_mapped() -> None:
    result = arriving_with({"lth-ed", "lth-ed-south"})

    assert isinstance(result, Rejected)
    assert result.field.startswith("Encounter.location[0]")
    assert "lth-ed, lth-ed-south" in result.message


def test_an_organisation_without_a_department_admits() -> None:
    result = arriving_with(set())

    assert not isinstance(result, Rejected)
    assert [e.event["event_type"] for e in result.events] == ["admission"]
