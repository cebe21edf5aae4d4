"""What FHIR STU3 and R5 senders are told. NHS systems still send STU3 (Care Connect, ITK3
Transfer of Care, the National Events Management Service), and R5 is published: a refusal that
says only "class is required", or that 'discharged' "is not a discharge", gave their senders
nothing to act on. Each now says which version it looks like and that R4 is read."""

from __future__ import annotations

from typing import Any

from flowsight.adapters.fhir.intake import resource_of
from flowsight.adapters.fhir.outcome import Answer
from tests.adapters.fhir.encounters import encounter
from tests.adapters.fhir.test_real_feeds import refusal, transaction

CARE_CONNECT = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Encounter-1"
STU3_XML = f"""<Encounter xmlns="http://hl7.org/fhir">
  <meta><profile value="{CARE_CONNECT}"/></meta>
  <status value="finished"/>
  <reason><text value="chest pain"/></reason>
  <subject><identifier><system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9434765919"/></identifier></subject>
</Encounter>""".encode()


def said(answer: Answer) -> list[str]:
    return [issue.diagnostics for issue in answer.issues]


def test_an_stu3_xml_encounter_is_told_r4_is_read() -> None:
    answer = resource_of(STU3_XML, "Encounter", xml=True)

    assert isinstance(answer, Answer)
    assert any(f"looks like FHIR STU3 (the profile {CARE_CONNECT})" in d for d in said(answer))


def test_an_stu3_json_message_is_told_r4_is_read() -> None:
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "event": {"system": "https://fhir.nhs.uk/STU3/CodeSystem/EventType-1", "code": "x"},
        "source": {"endpoint": "urn:nems"},
    }
    document = transaction({"resource": header}, {"resource": encounter(reason=[{"text": "x"}])})

    assert any("looks like FHIR STU3 (MessageHeader.event" in d for d in said(refusal(document)))


def test_an_r4_refusal_carries_no_version_hint() -> None:
    answer = refusal(encounter(status="wandering"))

    assert not any("STU3" in d for d in said(answer))


def test_an_r5_status_is_named_as_r5s() -> None:
    (issue,) = refusal(encounter(status="discharged")).issues

    assert "status 'discharged' is FHIR R5's, not R4's" in issue.diagnostics
    assert "'finished'" in issue.diagnostics


def test_a_time_without_an_offset_is_named_so() -> None:
    document = encounter(period={"start": "2018-11-08T13:10:00"})

    (issue,) = refusal(document).issues

    assert issue.expression == "Encounter.period.start"
    assert "has a time but no time zone offset" in issue.diagnostics
