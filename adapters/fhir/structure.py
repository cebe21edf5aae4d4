"""What fhir.resources finds wrong with a resource, said in FHIR's terms. Pure.

fhir.resources checks a resource with pydantic, whose messages speak of Python: `got type
<class 'list'>`, ``` ``fhir.resources.R4B.bundle.BundleEntry`` expects resource type ```, `Make
sure ... right ModelClass has been chosen`, `Extra inputs are not permitted`. A sender reads
FHIR: each problem is said here by its element's FHIRPath and what FHIR expects there (a JSON
array, an object, a string, a dateTime), never by a Python class, module or pydantic's words.
Values are never quoted: a Patient's are its NHS number and name.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from flowsight.adapters.fhir.elements import INVALID_FHIR
from flowsight.adapters.fhir.outcome import Issue

#: What an element that is not there in FHIR R4 is said to be.
NO_SUCH_ELEMENT = "FHIR R4 has no such element here (an R5 or misspelt element?)"
#: fhir.resources' key for a resource type it does not have (`R4.NopeType`).
_UNKNOWN_TYPE = re.compile(r"^R4\.(\w+)Type$")
#: fhir.resources' complaint of a primitive: `DateTime value string does not match spec regex.`
_PRIMITIVE = re.compile(r"^(\w+) value string does not match spec regex")
#: A date and time without the offset FHIR requires with a time (an ambulance handover's
#: `2018-11-08T13:10:00`).
_NO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
#: fhir.resources' complaint of a required choice left out (MessageHeader.event[x]).
_ONE_OF = re.compile(r"^Expect any of field value from this list \[(.*)\]")


def structure_issues(invalid: Exception, prefix: str) -> list[Issue]:
    """One OperationOutcome issue per problem fhir.resources found in the resource at `prefix`."""
    if not isinstance(invalid, ValidationError):
        return [Issue("error", "structure", f"{prefix}: {_other(invalid)}", prefix, INVALID_FHIR)]
    issues = []
    for found in invalid.errors(include_url=False):
        where = fhir_path(prefix, found["loc"])
        code = "required" if "missing" in found["type"] else "structure"
        issues.append(Issue("error", code, f"{where}: {said(found)}", where, INVALID_FHIR))
    return issues


def problems(invalid: Exception) -> str:
    """What fhir.resources found wrong, by element within the resource, in one sentence."""
    if not isinstance(invalid, ValidationError):
        return _other(invalid)
    return "; ".join(
        f"{fhir_path('', found['loc']).lstrip('.')}: {said(found)}"
        for found in invalid.errors(include_url=False)
    )


def fhir_path(prefix: str, location: tuple[int | str, ...]) -> str:
    """The FHIRPath of pydantic's location `location` under `prefix`."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif part != "root":  # fhir.resources' marker for "the element itself"
            path += f".{part}"
    return path


def said(found: Any) -> str:
    """One pydantic error (an `ErrorDetails`) as FHIR words, without the value it found."""
    kind, context = str(found["type"]), found.get("ctx") or {}
    sent = json_kind(found.get("input"))
    if kind == "extra_forbidden":
        return NO_SUCH_ELEMENT
    if "missing" in kind:
        return "is required"
    if kind == "fhir-validation-wrong-resource-type":
        expected, got = context.get("expected_resource_type"), context.get("resource_type")
        if expected == "BundleEntry":
            return (
                f"a Bundle entry with the elements of {a_type(str(got))} in it: an entry carries its "
                "resource in entry.resource"
            )
        return f"must be a {expected}, not a {got}"
    if kind == "model_validation_format":
        return (
            f"must be {a_type(context.get('model_class', 'FHIR datatype'))} (an object), not {sent}"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type", "json_invalid", "json_type"):
        return f"must be an object, not {sent}"  # json_invalid: a string where an object goes
    if kind == "string_pattern_mismatch":
        return f"does not match FHIR's pattern {context.get('pattern')} for it"
    head, _, check = kind.partition("_")
    if kind == "list_type" and isinstance(found.get("input"), list):
        # fhir.resources' word for an array holding null, which FHIR's JSON never has.
        return "must not hold null (JSON FHIR has no null values)"
    if head in _EXPECTED and check in ("type", "parsing"):
        return f"must be {_EXPECTED[head]}, not {sent}"
    message = str(found.get("msg", "")).removeprefix("Value error, ")
    primitive = _PRIMITIVE.match(message)
    if primitive:
        value = found.get("input")
        if isinstance(value, str) and _NO_OFFSET.match(value):
            return "has a time but no time zone offset: FHIR needs one with a time (e.g. +00:00)"
        return f"is not a valid FHIR {primitive.group(1)[:1].lower()}{primitive.group(1)[1:]}"
    one_of = _ONE_OF.match(message)
    if one_of:
        names = ", ".join(name.strip(" '\"") for name in one_of.group(1).split(","))
        return f"needs one of {names} (a choice FHIR R4 requires)"
    if "timezone aware" in message:
        return "needs a time zone offset (e.g. +00:00)"
    if "``" in message or "<class" in message or "fhir.resources" in message:
        return "is not valid FHIR R4 here"  # a library's message that would speak Python
    return message.rstrip(".")


#: What a pydantic type check (`string_type`, `list_type`, `bool_parsing`...) expected.
_EXPECTED = {
    "string": "a string",
    "str": "a string",
    "list": "a JSON array (the element repeats)",
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "decimal": "a number",
}


def json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a JSON array"
    if isinstance(value, str | bytes):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "another value"


def a_type(name: str) -> str:
    """A FHIR type's name with its article: a Coding, an Identifier."""
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"


def _other(invalid: Exception) -> str:
    """A problem fhir.resources reports by an exception other than a ValidationError."""
    if isinstance(invalid, KeyError) and invalid.args and isinstance(invalid.args[0], str):
        unknown = _UNKNOWN_TYPE.match(invalid.args[0])
        if unknown:
            return (
                f"holds a resource of type {unknown.group(1)[:40]!r}, which FHIR R4 does not have"
            )
        # The XML reader meeting an element R4 does not have: its name, not a value.
        return f"no element {invalid.args[0][:40]!r} in FHIR R4 (an R5 or misspelt element?)"
    return "not valid FHIR R4"
