"""JSON Schema documents of the event contract, for integration teams to validate against."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from flowsight.schemas.events import EVENT_TYPES, SCHEMA_VERSION, Envelope, Event

SCHEMA_BASE = "https://flowsight.example/schemas/v1"


def contract_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema: one per event type, the common envelope, and any event."""
    documents: dict[str, dict[str, Any]] = {}
    for name, model in EVENT_TYPES.items():
        documents[f"{name}.schema.json"] = _document(model.model_json_schema(), name)
    documents["envelope.schema.json"] = _document(Envelope.model_json_schema(), "envelope")
    documents["event.schema.json"] = _document(TypeAdapter(Event).json_schema(), "event")
    return documents


def render(document: dict[str, Any]) -> str:
    """The text a schema file holds: stable key order, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _document(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}/{name}.schema.json",
        "x-flowsight-schema-version": SCHEMA_VERSION,
        **schema,
    }
