"""An XML resource fhir.resources refuses is refused naming the elements its JSON twin would
name (UK Core publishes its examples in XML), not the whole resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir.resources.R4B.encounter import Encounter
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from flowsight.adapters.fhir.envelope import parsed
from flowsight.adapters.fhir.intake import resource_of
from flowsight.adapters.fhir.outcome import Answer
from flowsight.adapters.fhir.xml_faults import MOST_READS

CORPUS = Path(__file__).parents[2] / "conformance" / "corpus" / "fhir"


def _refusal(body: bytes) -> Answer:
    answer = resource_of(body, "Encounter", xml=True)
    assert isinstance(answer, Answer), answer
    return answer


def test_an_r5_encounter_in_xml_names_each_element_r4_lacks() -> None:
    body = (CORPUS / "hl7-fhir__encounter-example-colonoscopy.xml").read_bytes()

    answer = _refusal(body)

    assert answer.status == 422
    assert [issue.expression for issue in answer.issues] == [
        "Encounter.class",
        "Encounter.participant[0].actor",
        "Encounter.actualPeriod",
        "Encounter.reason",
    ]
    assert answer.issues[0].diagnostics.startswith("Encounter.class: has an element 'coding'")
    assert answer.dead_letters[0][1].field == "Encounter.class"


def test_an_xml_encounter_and_its_json_twin_name_the_same_elements() -> None:
    """UK Core's inpatient Encounter with a start that is no dateTime and R5's actualPeriod
    beside it: refused on the same elements as XML and as the JSON it reads as."""
    xml = (CORPUS / "ukcore-2025__UKCore-Encounter-InpatientEncounter-Example.xml").read_bytes()
    twin = resource_of(xml, "Encounter", xml=True)
    assert isinstance(twin, dict)
    start = b'<start value="2019-12-10T13:00:00+00:00" />'
    assert xml.count(start) == 1
    broken = xml.replace(start, b'<start value="soon" />').replace(
        b"<reasonCode>", b'<actualPeriod><start value="soon" /></actualPeriod><reasonCode>', 1
    )
    twin["period"]["start"] = "soon"
    twin["actualPeriod"] = {"start": "soon"}

    as_xml = _refusal(broken)
    _, as_json = parsed(Encounter, twin, "Encounter")

    expected = ["Encounter.actualPeriod", "Encounter.period.start"]
    assert sorted(issue.expression or "" for issue in as_json) == expected
    assert sorted(issue.expression or "" for issue in as_xml.issues) == expected


def test_the_walk_naming_faults_reads_a_bounded_number_of_elements(monkeypatch: Any) -> None:
    # 33 KB of extensions nested 100 deep: each level read everything under it again, and one
    # request held the API's every caller for 13 s. Refused as before, with a bounded walk.
    nested = (
        '<Encounter xmlns="http://hl7.org/fhir"><status value="in-progress"/>'
        + '<extension url="urn:x">' * 100
        + '<extension url="urn:y"><valueString value="a"/></extension>' * 500
        + "</extension>" * 100
        + "</Encounter>"
    ).encode()
    reads = 0
    read = FHIRAbstractModel.model_validate_xml.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return read(cls, *args, **kwargs)

    monkeypatch.setattr(FHIRAbstractModel, "model_validate_xml", classmethod(counted))

    answer = _refusal(nested)

    assert answer.status == 422
    assert answer.issues[0].expression == "Encounter.class"  # what is wrong with it: no class
    assert reads <= MOST_READS + 1  # the whole once, then the walk's reads
