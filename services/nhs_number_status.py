"""Whether an NHS number was traced, and which identity a patient then has: one rule for both
gateways, so the same patient sent over HL7 v2 and FHIR is tracked alike.

The trace status is the NHS Data Dictionary's NHS NUMBER STATUS INDICATOR CODE, "the trace status
of the NHS NUMBER". FHIR carries it in UK Core's NHSNumberVerificationStatus extension; HL7 v2 ADT
in PID-32 (NHS England's HL7 v2 ADT specification: table 0445 `NSTS01`-`NSTS08`). Only 01,
"number present and verified", says the number was traced to the person. Journeys merge by NHS
number, and a number not traced may be another person's: beside the source's local identifier
it gives way to it, linked once a later message says 01 (services/identities.py); alone it is
used as sent. A number whose status is not sent is taken as traced (most senders send none).
Plain data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The statuses of a traced number: 01 (England and Wales, and Care Connect), NHS Wales's `nn`
#: ("number present and traced using Welsh NHS AR"), and the word code of UK Core's retired
#: UKCore-NHSNumberVerificationStatus code system.
TRACED = frozenset({"01", "nn", "number-present-and-verified"})

#: What the other codes say (NHS Data Dictionary, NHS NUMBER STATUS INDICATOR CODE).
NOT_TRACED = {
    "02": "number present but not traced",
    "03": "trace required",
    "04": "trace attempted, no match or multiple match found",
    "05": "trace needs to be resolved (NHS number or patient detail conflict)",
    "06": "trace in progress",
    "07": "number not present and trace not required",
    "08": "trace postponed (baby under six weeks old)",
}

#: A status sent: its code and, when the sender gave one, its display text.
Status = tuple[str, str | None]


def untraced(statuses: Sequence[Status]) -> str | None:
    """Why a number sent with `statuses` is not a traced one (`02, number present but not
    traced`), or None when one of them says traced or none is sent."""
    if not statuses or any(code in TRACED for code, _ in statuses):
        return None
    code, display = statuses[0]
    return f"{code}, {NOT_TRACED.get(code) or display or 'not the code of a traced number'}"


def identity(nhs_number: str, local: dict[str, str] | None, why: str | None) -> dict[str, str]:
    """The contract patient of an NHS number and the source's local identifier (`local_id`,
    `id_system`), if any, the number being untraced for reason `why` (None: traced).

    Traced: both, so the local identifier links what the source sent before the number was
    traced. Not traced: the local identifier alone; with none, the number as sent (refusing
    would lose the patient from the board, and a pseudonym of the local id would never meet
    the traced number's)."""
    if why is None:
        return {"nhs_number": nhs_number, **(local or {})}
    return local if local is not None else {"nhs_number": nhs_number}
