"""An NHS number not traced is not the patient's NHS number yet. UK Core puts the NHS Data
Dictionary's NHS NUMBER STATUS INDICATOR CODE ("the trace status of the NHS NUMBER") on the
Patient's NHS number in the extension Extension-UKCore-NHSNumberVerificationStatus; only 01 is
"number present and verified". Beside a local identifier, an untraced number gives way to it (as
the HL7 gateway takes the local id alone beside an NHS number it cannot use), and the two are
linked once a version says 01; alone it is used as sent. Either way the answer warns."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.fhir.encounters import NHS_NUMBER, encounter
from tests.adapters.fhir.test_real_feeds import MRN, NHS, entry, examined, transaction

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
CARE_CONNECT = "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-NHSNumberVerificationStatus-1"
ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
WALES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusWales"
RETIRED = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"


def nhs_number(code: str | None, url: str = UK_CORE, system: str = ENGLAND) -> dict[str, Any]:
    """The NHS number's identifier as UK Core's Patient examples give it, with status `code`."""
    status = {"url": url, "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}
    return {"system": NHS, "value": NHS_NUMBER} | ({"extension": [status]} if code else {})


def sent(*identifiers: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, str | None]]]:
    """The admission's patient and the warnings, for a Patient of `identifiers` in a transaction
    with the Encounter that refers to it."""
    patient = {"resourceType": "Patient", "id": "p1", "identifier": list(identifiers)}
    document = transaction(
        entry(patient, "Patient/p1"), entry(encounter(subject={"reference": "Patient/p1"}))
    )
    result = examined(document)
    [admission] = result.events
    warnings = [(n.severity, n.expression) for n in result.notes if n.severity == "warning"]
    return admission.event["patient"], warnings


def test_a_number_present_but_not_traced_gives_way_to_the_local_identifier() -> None:
    patient, warnings = sent({"system": MRN, "value": "MRN-77"}, nhs_number("02"))

    assert patient == {"local_id": "MRN-77", "id_system": MRN}
    assert warnings == [("warning", "Bundle.entry[0].resource.identifier[1].extension")]


def test_a_verified_number_is_the_patient_with_the_local_identifier_beside_it() -> None:
    patient, warnings = sent({"system": MRN, "value": "MRN-77"}, nhs_number("01"))

    assert patient == {"nhs_number": NHS_NUMBER, "local_id": "MRN-77", "id_system": MRN}
    assert warnings == []


def test_care_connects_extension_is_read_too() -> None:
    patient, _ = sent(nhs_number("04", CARE_CONNECT), {"system": MRN, "value": "MRN-77"})

    assert patient == {"local_id": "MRN-77", "id_system": MRN}


def test_an_untraced_number_alone_is_used_as_sent_with_a_warning() -> None:
    patient, warnings = sent(nhs_number("03"))

    assert patient == {"nhs_number": NHS_NUMBER}
    assert warnings == [("warning", "Bundle.entry[0].resource.identifier[0].extension")]


def test_an_untraced_number_in_the_subject_identifier_is_used_with_a_warning() -> None:
    document = encounter(subject={"identifier": nhs_number("05")})

    result = examined(document)

    assert result.events[0].event["patient"] == {"nhs_number": NHS_NUMBER}
    [warning] = result.notes
    assert warning.expression == "Encounter.subject.identifier.extension"
    assert "05, trace needs to be resolved" in warning.diagnostics
    assert NHS_NUMBER not in warning.diagnostics


def test_an_untraced_subject_identifier_gives_way_to_the_referenced_patients_local_id() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": MRN, "value": "MRN-77"}],
    }
    subject = {"reference": "Patient/p1", "identifier": nhs_number("02")}
    document = transaction(entry(patient, "Patient/p1"), entry(encounter(subject=subject)))

    result = examined(document)

    assert result.events[0].event["patient"] == {"local_id": "MRN-77", "id_system": MRN}
    warnings = [n for n in result.notes if n.severity == "warning"]
    assert [w.expression for w in warnings] == [
        "Bundle.entry[1].resource.subject.identifier.extension"
    ]
    assert "the local identifier" in warnings[0].diagnostics


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("nn", WALES),  # "number present and traced using Welsh NHS AR"
        ("number-present-and-verified", RETIRED),  # UK Core's retired word codes
        ("UNK", NULL_FLAVOR),  # says nothing of the trace
    ],
    ids=["wales-traced", "retired-word-code", "null-flavour"],
)
def test_other_statuses_of_a_traced_number_keep_the_number(code: str, system: str) -> None:
    patient, warnings = sent({"system": MRN, "value": "MRN-77"}, nhs_number(code, system=system))

    assert patient == {"nhs_number": NHS_NUMBER, "local_id": "MRN-77", "id_system": MRN}
    assert warnings == []


def test_a_retired_word_code_of_an_untraced_number_gives_way_too() -> None:
    status = nhs_number("trace-required", system=RETIRED)

    patient, warnings = sent({"system": MRN, "value": "MRN-77"}, status)

    assert patient == {"local_id": "MRN-77", "id_system": MRN}
    assert len(warnings) == 1


# -- a number that is no NHS number ------------------------------------------------------------


def test_a_mistyped_number_beside_a_local_identifier_gives_way_to_it() -> None:
    # As the HL7 v2 gateway takes PID-3's local id beside a number failing its check digit:
    # the admission was refused whole, and the patient never reached the board.
    mistyped = NHS_NUMBER[:-1] + str((int(NHS_NUMBER[-1]) + 1) % 10)
    patient = {"resourceType": "Patient", "id": "p1", "identifier": []}
    patient["identifier"] = [{"system": MRN, "value": "MRN-77"}, {"system": NHS, "value": mistyped}]
    for subject in (
        {"reference": "Patient/p1"},
        {"reference": "Patient/p1", "identifier": {"system": NHS, "value": mistyped}},
    ):
        document = transaction(entry(patient, "Patient/p1"), entry(encounter(subject=subject)))
        result = examined(document)
        [admission] = result.events

        assert admission.event["patient"] == {"local_id": "MRN-77", "id_system": MRN}
        said = [n.diagnostics for n in result.notes if n.severity == "warning"]
        assert any("fails the Modulus 11 check digit" in note for note in said), said
        assert not any(mistyped in note for note in said)
