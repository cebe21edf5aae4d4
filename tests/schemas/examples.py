"""Realistic event documents, one per event type, as an integration team would publish them.

Shared by the schema tests and the validation tests. Each call returns a fresh dict so a test
can change it freely. Services and organisations are those of the default Leeds catalogue.
"""

from __future__ import annotations

from typing import Any

# 943 476 5919 is valid: 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299,
# 299 mod 11 = 2, 11 - 2 = 9, the tenth digit.
NHS_NUMBER = "943 476 5919"
NHS_NUMBER_DIGITS = "9434765919"

_PATIENT = {"nhs_number": NHS_NUMBER}

_DOCUMENTS: dict[str, dict[str, Any]] = {
    "attendance": {
        "event_id": "ed-att-20250310-0042",
        "schema_version": "1",
        "event_type": "attendance",
        "source": "RR8/symphony",
        "occurred_at": "2025-03-10T09:15:00Z",
        "patient": _PATIENT,
        "episode_id": "ATT-778812",
        "service": "lth-ed",
        "arrived_at": "2025-03-10T05:02:00Z",
        "departed_at": "2025-03-10T09:15:00Z",
        "outcome": "admitted",
    },
    "admission": {
        "event_id": "pas-adm-991",
        "schema_version": "1",
        "event_type": "admission",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T09:40:00+00:00",
        "patient": _PATIENT,
        "episode_id": "SPELL-55123",
        "service": "lth-wards",
        "unit": "Ward J24",
        "admission_method": "emergency",
        "correlation_id": "ATT-778812",
    },
    "transfer": {
        "event_id": "pas-trf-1207",
        "schema_version": "1",
        "event_type": "transfer",
        "source": "RR8/pas",
        "occurred_at": "2025-03-14T14:00:00Z",
        "patient": _PATIENT,
        "episode_id": "SPELL-55123",
        "service": "lth-wards",
        "from_service": "lth-wards",
        "to_service": "lch-community-beds",
        "to_unit": "Wharfedale ward 2",
    },
    "referral": {
        "event_id": "toc-ref-3301",
        "schema_version": "1",
        "event_type": "referral",
        "source": "RR8/pas",
        "occurred_at": "2025-03-12T11:20:00Z",
        "patient": _PATIENT,
        "episode_id": "REF-88121",
        "service": "lth-toc-hub",
        "to_service": "lcc-reablement",
        "pathway": "P1",
        "priority": "routine",
        "status": "new",
    },
    "assessment": {
        "event_id": "pas-ctr-5521",
        "schema_version": "1",
        "event_type": "assessment",
        "source": "RR8/pas",
        "occurred_at": "2025-03-11T10:00:00Z",
        "patient": _PATIENT,
        "episode_id": "SPELL-55123",
        "service": "lth-wards",
        "kind": "ctr_review",
        "status": "completed",
        "meets_criteria_to_reside": False,
        "discharge_ready_at": "2025-03-11T08:00:00Z",
        "delay_reason": "p1_awaiting_resource",
        "pathway": "P1",
    },
    "discharge": {
        "event_id": "pas-dis-7710",
        "schema_version": "1",
        "event_type": "discharge",
        "source": "RR8/pas",
        "occurred_at": "2025-03-15T16:30:00Z",
        "patient": _PATIENT,
        "episode_id": "SPELL-55123",
        "service": "lth-wards",
        "destination": "usual_residence_with_support",
        "pathway": "P1",
        "care_hours_per_week": 10.5,
        "independent": False,
    },
    "capacity": {
        "event_id": "beds-2025-03-10T12",
        "schema_version": "1",
        "event_type": "capacity",
        "source": "RY6/systmone",
        "occurred_at": "2025-03-10T11:59:00Z",
        "service": "lch-community-beds",
        "open": 172,
        "total": 185,
        "unit": "beds",
    },
    "cancellation": {
        "event_id": "pas-cxl-0019",
        "schema_version": "1",
        "event_type": "cancellation",
        "source": "RR8/pas",
        "occurred_at": "2025-03-10T10:05:00Z",
        "patient": _PATIENT,
        "episode_id": "SPELL-55123",
        "service": "lth-wards",
        "cancels_event_id": "pas-adm-991",
    },
}

#: The event types of SPEC section 3, written out from the spec rather than read from the code.
SPEC_EVENT_TYPES = (
    "attendance",
    "admission",
    "transfer",
    "referral",
    "assessment",
    "discharge",
    "capacity",
    "cancellation",
)

#: The organisation that may publish each example (its `source` prefix).
PUBLISHER = {event_type: doc["source"].split("/")[0] for event_type, doc in _DOCUMENTS.items()}


def example(kind: str, /, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the example document of event type `kind` with `changes` applied."""
    document = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in _DOCUMENTS[kind].items()
    }
    document.update(changes)
    return document


def without(document: dict[str, Any], *names: str) -> dict[str, Any]:
    """`document` less the named fields."""
    return {key: value for key, value in document.items() if key not in names}
