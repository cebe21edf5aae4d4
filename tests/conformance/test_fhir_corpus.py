"""Every FHIR file of the conformance corpus gives its expected answer: the events it becomes, or
the refusal and the element it names (tests/conformance/expected_fhir.yaml says why each)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.fhir.intake import (
    Reading,
    examine_by_type,
    examine_encounter,
    is_xml,
    resource_of,
)
from flowsight.adapters.fhir.outcome import Answer, Examined
from flowsight.adapters.profile import MappingProfile
from flowsight.schemas.events import organisation_of
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE

HERE = Path(__file__).parent
CORPUS = HERE / "corpus" / "fhir"
EXPECTED: dict[str, Any] = yaml.safe_load((HERE / "expected_fhir.yaml").read_text("utf-8"))
FILES: dict[str, dict[str, Any]] = EXPECTED["files"]
TRANSACTIONS: dict[str, dict[str, Any]] = EXPECTED["transactions"]
CONVERTED: dict[str, dict[str, Any]] = EXPECTED["converted"]
_KEPT = ("event_type", "event_id", "service", "admission_method", "destination", "unit")


@pytest.fixture(scope="module")
def reading() -> Reading:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    context = ValidationContext(catalogue, b"k" * 32, timedelta(minutes=5))
    profile = MappingProfile.model_validate(EXPECTED["profile"])
    assert profile.problems(catalogue) == []

    def publisher(source: object, organisations: frozenset[str]) -> str:
        claimed = organisation_of(source) if isinstance(source, str) else None
        return claimed if claimed in organisations else min(organisations)

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Reading(frozenset({"RR8"}), context, now, publisher, {"RR8": profile})


def posted(body: bytes, xml: bool, reading: Reading) -> Examined | Answer:
    """What the gateway answers: a FHIR message at POST /fhir/$process-message, any other Bundle
    at POST /fhir, anything else at POST /fhir/Encounter."""
    kind = "Bundle" if _root(body, xml) == "Bundle" else "Encounter"
    document = resource_of(body, kind, xml=xml)
    if isinstance(document, Answer):
        return document
    examine = examine_by_type if kind == "Bundle" else examine_encounter
    return examine(document, body, reading)


def _root(body: bytes, xml: bool) -> str | None:
    """The resource type a body is (its root element, or its resourceType wherever it is in
    the object: the V2-to-FHIR IG's Bundles give it last)."""
    if xml:
        text = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", body, flags=re.S)
        found = re.search(rb"<([A-Za-z]+)[\s>]", text)
        return found.group(1).decode() if found else None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    kind = document.get("resourceType") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def as_expected(result: Examined | Answer) -> dict[str, Any]:
    if isinstance(result, Examined):
        found: dict[str, Any] = {
            "status": 200,
            "events": [{k: v for k, v in i.event.items() if k in _KEPT} for i in result.events],
        }
        notes = result.notes
    else:
        found = {"status": result.status}
        errors = [issue for issue in result.issues if issue.severity == "error"]
        if result.status == 422:
            found["first"] = {"reason": errors[0].reason, "element": errors[0].expression}
        notes = [issue for issue in result.issues if issue.severity != "error"]
    if notes:
        found["notes"] = len(notes)
    return found


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_corpus_file_gives_its_expected_answer(name: str, reading: Reading) -> None:
    path = CORPUS / name
    result = posted(path.read_bytes(), path.suffix == ".xml", reading)

    assert as_expected(result) == FILES[name]


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_an_encounter_with_its_patient_in_one_transaction(name: str, reading: Reading) -> None:
    expected = dict(TRANSACTIONS[name])
    entries = []
    for file in expected.pop("entries"):
        resource = _resource(CORPUS / file)
        entries.append(
            {
                "fullUrl": f"{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}

    result = posted(orjson.dumps(bundle), False, reading)

    assert as_expected(result) == expected


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_a_batch_posted_as_a_transaction(name: str, reading: Reading) -> None:
    bundle = json.loads((CORPUS / name).read_bytes()) | {"type": "transaction"}

    result = posted(orjson.dumps(bundle), False, reading)

    assert as_expected(result) == CONVERTED[name]


#: Python's and its libraries' words, which a sender reading an OperationOutcome should never meet.
PYTHON_WORDS = re.compile(
    r"<class |``|fhir\.resources|ModelClass|Input should|Extra inputs|Value error|Error\(|KeyError"
)


@pytest.mark.parametrize("name", sorted(FILES) + [f"{name} as a transaction" for name in CONVERTED])
def test_every_answer_speaks_fhir_not_python(name: str, reading: Reading) -> None:
    file = name.removesuffix(" as a transaction")
    path = CORPUS / file
    body = path.read_bytes()
    if name != file:
        body = orjson.dumps(json.loads(body) | {"type": "transaction"})

    result = posted(body, path.suffix == ".xml", reading)

    issues = result.notes if isinstance(result, Examined) else result.issues
    assert [i.diagnostics for i in issues if PYTHON_WORDS.search(i.diagnostics)] == []


def _resource(path: Path) -> dict[str, Any]:
    """A corpus file's resource as FHIR JSON. The gateway reads an XML Location only inside a
    Bundle, so one is read as the single entry of an XML transaction."""
    body, kind, xml = path.read_bytes(), _kind(path), path.suffix == ".xml"
    if xml and kind not in ("Encounter", "Patient"):
        inner = re.sub(rb"^\s*<\?xml.*?\?>", b"", body)
        body = (
            b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/><entry><resource>'
            + inner
            + b"</resource></entry></Bundle>"
        )
        bundle = resource_of(body, "Bundle", xml=True)
        assert isinstance(bundle, dict), bundle
        resource = bundle["entry"][0]["resource"]
    else:
        resource = resource_of(body, kind, xml=xml)
    assert isinstance(resource, dict), resource
    return resource


def _kind(path: Path) -> str:
    """The resource type of a corpus file, as resource_of needs it named."""
    return _root(path.read_bytes(), path.suffix == ".xml") or "Encounter"


def test_xml_content_types_are_told_apart() -> None:
    assert is_xml("application/fhir+xml; charset=utf-8")
    assert is_xml("application/xml")
    assert not is_xml("application/fhir+json")
