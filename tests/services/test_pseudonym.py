"""Keyed pseudonyms: one per patient, and never the same for two different patients."""

from __future__ import annotations

from flowsight.schemas.events import PatientIdentity
from flowsight.services.pseudonym import pseudonymise

KEY = b"test-pseudonym-key-0123456789abcdef"


def test_an_nhs_number_wins_over_a_local_id_so_organisations_link_up() -> None:
    hospital = PatientIdentity(nhs_number="9434765919", local_id="MRN001", id_system="RR8/pas")
    council = PatientIdentity(nhs_number="943 476 5919", local_id="P-0099", id_system="LCC/mosaic")

    assert pseudonymise(hospital, KEY) == pseudonymise(council, KEY)


def test_two_local_identities_that_differ_never_share_a_pseudonym() -> None:
    # Identifier systems are often URIs or "org:system" codes, so both parts may hold a colon.
    # (system "RR8:pas", id "100234") and (system "RR8", id "pas:100234") are different
    # patients in different systems and must not be merged into one journey.
    first = PatientIdentity(local_id="100234", id_system="RR8:pas")
    second = PatientIdentity(local_id="pas:100234", id_system="RR8")

    assert pseudonymise(first, KEY) != pseudonymise(second, KEY)
