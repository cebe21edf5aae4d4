"""Whether a patient's NHS number was traced: UK Core's NHSNumberVerificationStatus extension on
the NHS number's identifier (Care Connect's before it), valued with the NHS Data Dictionary's
NHS NUMBER STATUS INDICATOR CODE, "the trace status of the NHS NUMBER". Only 01, "number present
and verified", says the number was traced to the person; an identifier without the extension is
taken as traced, as before it was read. Pure: no I/O."""

from __future__ import annotations

from fhir.resources.R4B.identifier import Identifier

#: The extension's URL in UK Core (R4) and in Care Connect (STU3), still sent by older feeds.
VERIFICATION_STATUS = frozenset(
    {
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
        "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-NHSNumberVerificationStatus-1",
    }
)

#: The one status of a traced number.
VERIFIED = "01"

#: What the other codes say (NHS Data Dictionary, NHS NUMBER STATUS INDICATOR CODE).
NOT_VERIFIED = {
    "02": "number present but not traced",
    "03": "trace required",
    "04": "trace attempted, no match or multiple match found",
    "05": "trace needs to be resolved (NHS number or patient detail conflict)",
    "06": "trace in progress",
    "07": "number not present and trace not required",
    "08": "trace postponed (baby under six weeks old)",
}


def untraced(identifier: Identifier) -> str | None:
    """Why the NHS number in `identifier` is not a traced one (`02, number present but not
    traced`), or None when its status is 01 or it carries none."""
    for extension in identifier.extension or []:
        concept = extension.valueCodeableConcept
        if extension.url not in VERIFICATION_STATUS or concept is None:
            continue
        codes = [coding.code for coding in concept.coding or [] if coding.code]
        if not codes or VERIFIED in codes:
            return None
        return f"verification status {codes[0]}, {NOT_VERIFIED.get(codes[0], 'not a known code')}"
    return None
