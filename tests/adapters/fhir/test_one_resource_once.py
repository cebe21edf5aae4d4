"""A transaction that holds one Encounter twice (two versions: discharged, and not) is refused,
as R4's transaction rules fail overlapping resources. Before, both were mapped: an admission
twice, and a discharge with its own withdrawal, in one request."""

from __future__ import annotations

from tests.adapters.fhir.encounters import encounter, finished
from tests.adapters.fhir.test_real_feeds import examined, refusal, transaction


def put(resource: dict[str, object], full_url: str) -> dict[str, object]:
    request = {"method": "PUT", "url": f"Encounter/{resource['id']}"}
    return {"fullUrl": full_url, "resource": resource, "request": request}


def test_two_versions_of_one_encounter_in_a_transaction_are_refused() -> None:
    document = transaction(
        put(finished(), "urn:uuid:00000000-0000-4000-8000-000000000001"),
        put(encounter(), "urn:uuid:00000000-0000-4000-8000-000000000002"),
    )

    answer = refusal(document)

    assert answer.issues[0].expression == "Bundle.entry[1].resource"
    assert "Bundle.entry[0]" in answer.issues[0].diagnostics
    assert answer.dead_letters  # the refused entry is kept


def test_encounters_that_share_only_a_business_identifier_are_not_one_resource() -> None:
    # microsoft/fhir-server's US Core transaction gives three Encounters one identifier.
    first, second = encounter(id="enc-a"), encounter(id="enc-b")
    document = transaction(put(first, "urn:uuid:a"), put(second, "urn:uuid:b"))

    assert examined(document).events


def test_two_conditional_updates_of_different_encounters_are_two_resources() -> None:
    # Integration engines PUT by identifier: `Encounter?identifier=<system>|<value>`. Both had
    # been taken for "Encounter" (the query cut off) and the transaction refused.
    def conditional(spell: str) -> dict[str, object]:
        resource = encounter(
            id=spell, identifier=[{"system": "https://fhir.rr8.example/Id/spell", "value": spell}]
        )
        url = f"Encounter?identifier=https://fhir.rr8.example/Id/spell|{spell}"
        return {"resource": resource, "request": {"method": "PUT", "url": url}}

    assert len(examined(transaction(conditional("S1"), conditional("S2"))).events) == 2
    refused = refusal(transaction(conditional("S1"), conditional("S1")))
    assert refused.issues[0].expression == "Bundle.entry[1].resource"
