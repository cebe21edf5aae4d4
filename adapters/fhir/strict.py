"""What FHIR asks of a resource that fhir.resources does not check for us: each JSON property
once, dates and times as strings, and no modifier extension flowsight does not know. Pure.

- R4 json.html: an object has each property at most once (`schemas.strict_json`, which reads
  the body). Python's reader keeps the last of two, so `"status": "entered-in-error", ...,
  "status": "in-progress"` would lose the retraction.
- R4 datatypes.html: a date, dateTime or instant is a JSON string. fhir.resources (pydantic)
  reads a number as seconds since 1970, so `"start": 20250310` was an admission in August 1970.
- R4 extensibility.html: a `modifierExtension` (or `implicitRules`) may change what the element
  means, and an application that does not know it SHALL NOT process the element as if it were
  not there. flowsight knows none, so the resource is refused, naming where it is.
"""

from __future__ import annotations

from typing import Any

from flowsight.adapters.fhir.elements import INVALID_FHIR, UNSUPPORTED_ENCOUNTER
from flowsight.adapters.fhir.outcome import Issue

#: Elements of an Encounter that are a date, dateTime or instant under a plain name (Period's
#: `start` and `end`, Meta's `lastUpdated`); `value[x]` says its type in its name.
TIME_ELEMENTS = frozenset({"start", "end", "lastUpdated"})
TIME_TYPES = ("Date", "DateTime", "Instant", "Time")
#: Elements whose presence changes a resource's meaning in ways flowsight cannot read.
MODIFIERS = ("modifierExtension", "implicitRules")


def unreadable(resource: dict[str, Any], prefix: str) -> list[Issue]:
    """An issue for each time given as a number and each modifier in `resource` (at `prefix`)."""
    issues: list[Issue] = []
    pending: list[tuple[str, object]] = [(prefix, resource)]
    while pending:
        path, node = pending.pop()
        children = (
            [(f"{path}.{key}", key, value) for key, value in node.items()]
            if isinstance(node, dict)
            else [(f"{path}[{index}]", "", value) for index, value in enumerate(node)]
            if isinstance(node, list)
            else []
        )
        for where, key, value in children:
            if key in MODIFIERS and value:
                issues.append(
                    Issue(
                        "error",
                        "not-supported",
                        f"{where}: flowsight knows no modifier extension or implicit rules, and "
                        "FHIR forbids reading the resource as if they were not there",
                        where,
                        UNSUPPORTED_ENCOUNTER,
                    )
                )
            elif _is_number(value) and (key in TIME_ELEMENTS or _typed_time(key)):
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        f"{where}: a FHIR date or time is a JSON string with an offset (e.g. "
                        '"2025-03-10T09:40:00+00:00"), not a number',
                        where,
                        INVALID_FHIR,
                    )
                )
            else:
                pending.append((where, value))
    return sorted(issues, key=lambda issue: issue.expression or "")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _typed_time(key: str) -> bool:
    return key.startswith("value") and key.endswith(TIME_TYPES)
