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

#: The statuses of a traced number: 01 (England and Wales, and Care Connect), NHS Wales's `nn`
#: ("number present and traced using Welsh NHS AR"), and the word code of UK Core's retired
#: UKCore-NHSNumberVerificationStatus code system.
TRACED = frozenset({"01", "nn", "number-present-and-verified"})

#: A null flavour (UK Core's value set admits v3-NullFlavor: unknown, asked but unknown) says
#: nothing of the trace: as if no status were sent.
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"

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
    traced`), or None when its status says traced, says nothing (a null flavour), or is not
    sent."""
    for extension in identifier.extension or []:
        concept = extension.valueCodeableConcept
        if extension.url not in VERIFICATION_STATUS or concept is None:
            continue
        codings = [c for c in concept.coding or [] if c.code and c.system != NULL_FLAVOR]
        if not codings or any(coding.code in TRACED for coding in codings):
            return None
        code, display = codings[0].code, codings[0].display
        meaning = NOT_VERIFIED.get(str(code)) or display or "not the code of a traced number"
        return f"verification status {code}, {meaning}"
    return None
