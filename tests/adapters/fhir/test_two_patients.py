"""An Encounter whose subject names one NHS number while the Patient its reference points at has
another is refused: R4 prefers the literal reference, the gateway reads the identifier, and a bed
given to the wrong patient is worse than a refusal. Before, the identifier was used silently."""

from __future__ import annotations

from tests.adapters.fhir.encounters import NHS_NUMBER, encounter
from tests.adapters.fhir.test_real_feeds import NHS, a_patient, examined, refusal

OTHER_NHS_NUMBER = "9658218873"


def subject(number: str) -> dict[str, object]:
    return {"reference": "#p", "identifier": {"system": NHS, "value": number}}


def test_a_subject_whose_identifier_and_patient_disagree_is_refused() -> None:
    document = encounter(contained=[a_patient(id="p")], subject=subject(OTHER_NHS_NUMBER))

    answer = refusal(document)

    (issue,) = answer.issues
    assert (issue.reason, issue.expression) == ("invalid_field", "Encounter.subject")
    assert OTHER_NHS_NUMBER not in issue.diagnostics and NHS_NUMBER not in issue.diagnostics


def test_the_same_number_written_another_way_is_the_same_patient() -> None:
    spaced = f"{NHS_NUMBER[:3]} {NHS_NUMBER[3:6]} {NHS_NUMBER[6:]}"
    document = encounter(contained=[a_patient(id="p")], subject=subject(spaced))

    assert examined(document).events
