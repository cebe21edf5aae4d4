"""Whether a patient's NHS number was traced: UK Core's NHSNumberVerificationStatus extension on
the NHS number's identifier (Care Connect's before it), valued with the NHS Data Dictionary's
NHS NUMBER STATUS INDICATOR CODE, "the trace status of the NHS NUMBER". Which codes say traced,
and what an untraced number gives way to, is `services.nhs_number_status`, shared with the HL7
gateway (PID-32). Pure: no I/O."""

from __future__ import annotations

from fhir.resources.R4B.identifier import Identifier

from flowsight.services import nhs_number_status

#: The extension's URL in UK Core (R4) and in Care Connect (STU3), still sent by older feeds.
VERIFICATION_STATUS = frozenset(
    {
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-NHSNumberVerificationStatus-1",
    }
)

#: A null flavour (UK Core's value set admits v3-NullFlavor: unknown, asked but unknown) says
#: nothing of the trace: as if no status were sent.
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"


def untraced(identifier: Identifier) -> str | None:
    """Why the NHS number in `identifier` is not a traced one (`verification status 02, number
    present but not traced`), or None when its status says traced, says nothing (a null flavour), or is not
    sent."""
    for extension in identifier.extension or []:
        concept = extension.valueCodeableConcept
        if extension.url not in VERIFICATION_STATUS or concept is None:
            continue
        statuses = [
            (str(c.code), c.display)
            for c in concept.coding or []
            if c.code and c.system != NULL_FLAVOR
        ]
        why = nhs_number_status.untraced(statuses)
        return f"verification status {why}" if why else None
    return None
