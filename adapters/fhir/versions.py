"""Which FHIR version a refused body looks like: NHS systems still send STU3 (Care Connect, ITK3
Transfer of Care, the National Events Management Service), and a refusal that said only which R4
element was missing gave their senders nothing to act on. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flowsight.adapters.fhir.outcome import Answer, Examined, Issue


def hinted(document: dict[str, Any], result: Examined | Answer) -> Examined | Answer:
    """A refusal of FHIR STU3 (Care Connect, ITK3, NEMS: still sent by NHS systems) says so, as
    well as which R4 element it lacks: "class is required" told its sender nothing to act on."""
    if isinstance(result, Examined) or not any(i.severity == "error" for i in result.issues):
        return result
    return with_hint(result, stu3_sign(document))


def with_hint(answer: Answer, sign: str | None) -> Answer:
    if sign is None:
        return answer
    hint = Issue(
        "information",
        "not-supported",
        f"this looks like FHIR STU3 ({sign}): flowsight reads FHIR R4 (UK Core); convert it to "
        "R4, or send the same events as HL7 v2 or contract events",
    )
    return replace(answer, issues=[*answer.issues, hint])


def xml_stu3_sign(body: bytes) -> str | None:
    """`stu3_sign` of an XML body that could not be read as R4: its first STU3 profile."""
    found = _XML_STU3_PROFILE.search(body[:FHIR_XML_SCAN])
    return f"the profile {found.group(1)[:200].decode(errors='replace')}" if found else None


def stu3_sign(document: object) -> str | None:
    """What in `document` says FHIR STU3: a profile of Care Connect, ITK3 or an STU3 URL on it,
    an entry's resource or a contained one, or a MessageHeader with STU3's `event` (R4's is
    `eventCoding`); None if nothing does."""
    for resource in _resources(document):
        if resource.get("resourceType") == "MessageHeader" and "event" in resource:
            return "MessageHeader.event, where R4 has eventCoding"
        meta = resource.get("meta")
        for profile in meta.get("profile", []) if isinstance(meta, dict) else []:
            if isinstance(profile, str) and any(mark in profile for mark in _STU3_MARKS):
                return f"the profile {profile[:200]}"
    return None


def _resources(document: object) -> Iterator[dict[str, Any]]:
    """`document`, the resources of its entries and those it contains, and theirs."""
    if not isinstance(document, dict):
        return
    yield document
    for entry in _listed(document.get("entry")):
        yield from _resources(entry.get("resource"))
    for contained in _listed(document.get("contained")):
        yield from _resources(contained)


def _listed(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


#: What a profile URL of FHIR STU3 holds: NHS England's STU3 profiles are all under these.
_STU3_MARKS = ("/STU3/", "CareConnect-", "ITK-")
_XML_STU3_PROFILE = re.compile(
    rb'<profile value="([^"]*(?:'
    + b"|".join(re.escape(mark.encode()) for mark in _STU3_MARKS)
    + rb')[^"]*)"'
)
#: How much of an XML body is searched for a profile (profiles come in each resource's meta).
FHIR_XML_SCAN = 1 << 20
