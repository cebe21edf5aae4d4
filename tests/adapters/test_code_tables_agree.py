"""HL7 v2 and FHIR senders using the same NHS Data Dictionary code get the same event."""

from __future__ import annotations

from flowsight.adapters.fhir import mapping as fhir_mapping
from flowsight.adapters.hl7 import mapping as hl7_mapping


def test_discharge_destination_codes_mean_the_same_over_hl7_and_fhir() -> None:
    fhir = {
        code: destination
        for (system, code), destination in fhir_mapping.DISCHARGE_DESTINATION_CODES.items()
        if system == fhir_mapping.DISCHARGE_DESTINATION_ENGLAND
    }
    hl7 = {code: d for code, d in hl7_mapping._DESTINATIONS.items() if code.isdigit()}
    assert set(fhir) == set(hl7)
    assert {code: str(d) for code, d in fhir.items()} == {code: str(d) for code, d in hl7.items()}
