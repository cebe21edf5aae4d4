"""Where a FHIR XML resource fhir.resources refused is wrong, named as its JSON twin's would be.

fhir.resources reads XML element by element, building each datatype as it goes: what it finds
wrong is said without where (an unknown element is a bare `KeyError('coding')`; an error inside
`<period>` is located in the Period, not the Encounter). So, only once it has refused one, the
resource is walked here with the models' own description of each element (the name it has in
XML, whether it repeats, its type) and each fault is named by its FHIRPath:
`Encounter.actualPeriod`, `Encounter.participant[0].actor`, `Bundle.entry[2].resource.class`.
UK Core publishes its examples in XML; a refusal of one names what its JSON twin would. Pure.

The walk reads each sound element again on its own, which costs about a parse of that element:
nested deep, or with thousands of siblings, that grew to seconds for a body of a few kilobytes
(33 KB nested 100 deep: 13 s, every other caller of the API waiting). So a walk reads at most
`MOST_READS` elements; past that it names what it has found, or nothing, and the refusal says
what fhir.resources said of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.backboneelement import BackboneElement
from fhir.resources.R4B.resource import Resource
from fhir_core.utils import (
    determine_version_prefix_from_class,
    get_fhir_type_name,
    is_list_type,
    is_primitive_type,
)
from lxml import etree

from flowsight.adapters.fhir.elements import INVALID_FHIR
from flowsight.adapters.fhir.outcome import Issue
from flowsight.adapters.fhir.structure import NO_SUCH_ELEMENT, a_type, structure_issues

#: The most elements one walk reads again (each costs about a parse of itself).
MOST_READS = 200


@dataclass
class Budget:
    """What is left of a walk's reads."""

    reads: int = MOST_READS

    def take(self) -> bool:
        """Whether one more read may be made (and count it)."""
        self.reads -= 1
        return self.reads >= 0


def faults(
    element: Any, model: Any, path: str, parser: Any, budget: Budget | None = None
) -> list[Issue]:
    """The issues of the XML `element` read as `model` at `path`: each element R4 does not
    have there, and the errors of each element whose own children are sound (read with
    `parser`, as the whole was), within `budget` (a new one when None)."""
    budget = budget if budget is not None else Budget()
    issues: list[Issue] = []
    aliases = model.get_alias_mapping()
    prefix = determine_version_prefix_from_class(model)
    repeated: dict[str, int] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name not in aliases:
            if not issubclass(model, Resource | BackboneElement):
                # A datatype with an element it has not is another type (R5's class is a
                # CodeableConcept): the element is named, as JSON names one of the wrong shape.
                kind = model.get_resource_type()
                message = (
                    f"{path}: has an element {name[:40]!r}, which {a_type(kind)} has not: "
                    + (f"not {a_type(kind)} as FHIR R4 defines it (an R5 element?)")
                )
                return [Issue("error", "structure", message, path, INVALID_FHIR)]
            where = f"{path}.{name[:40]}"
            message = f"{where}: {NO_SUCH_ELEMENT}"
            issues.append(Issue("error", "structure", message, where, INVALID_FHIR))
            continue
        field = model.model_fields[aliases[name]]
        index = repeated[name] = repeated.get(name, -1) + 1
        where = f"{path}.{name}[{index}]" if is_list_type(field) else f"{path}.{name}"
        if not is_primitive_type(field):  # a primitive's errors are its parent's
            kind = get_fhir_type_name(field, prefix=prefix)
            issues.extend(_inner(child, kind, where, parser, budget))
    if issues or not budget.take():
        return issues
    try:
        model.model_validate_xml(etree.tostring(element), xmlparser=parser)
    except Exception as invalid:  # fhir.resources raises ValidationError, KeyError, ValueError
        return structure_issues(invalid, path)
    return []


def _inner(element: Any, kind: str, path: str, parser: Any, budget: Budget) -> list[Issue]:
    """The faults of an element of type `kind`; a Resource (`contained`, `entry.resource`)
    holds the resource as its one child, read by the type that child names."""
    if kind != "Resource":
        return faults(element, get_fhir_model_class(kind), path, parser, budget)
    held = next((child for child in element if isinstance(child.tag, str)), None)
    if held is None:
        return []
    name = etree.QName(held).localname
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError):
        message = f"{path}: holds a resource of type {name[:40]!r}, which FHIR R4 does not have"
        return [Issue("error", "structure", message, path, INVALID_FHIR)]
    return faults(held, model, path, parser, budget)
