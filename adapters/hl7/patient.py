"""The patient an ADT message is about: the NHS number (PID-3 or PID-2, by the profile's rules)
and the first local identifier of PID-3, as the contract's `patient`.

An NHS number whose trace status (PID-32) says it was not traced gives way to the local
identifier as the FHIR gateway's does (`services.nhs_number_status`, the one rule for both).
NHS England's HL7 v2 ADT specification sends the NHS Data Dictionary's NHS NUMBER STATUS
INDICATOR CODE in PID-32 (Identity Reliability Code), table 0445 extended with `NSTS01`
(number present and verified) to `NSTS08`; some feeds send the bare code (`01`-`08`). The
table's other codes (`AL` an alias, `UD` an unknown date of birth, ...) say nothing of the
number and are passed over. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from flowsight.adapters.hl7.parse import MISSING_FIELD, repetitions, text
from flowsight.adapters.hl7.parse import identifier as read_id
from flowsight.adapters.profile import NhsNumberRules
from flowsight.schemas.nhs_number import nhs_number_problem, normalise_nhs_number
from flowsight.services import nhs_number_status
from flowsight.services.validation import Refused

#: The OID of the NHS number as an assigning authority (HL7 UK), in CX.4.2 with CX.4.3 `ISO`.
NHS_NUMBER_OID = "2.16.840.1.113883.2.1.4.1"
#: The prefix NHS England's table 0445 puts before an NHS Number Status Indicator Code.
_STATUS_PREFIX = "NSTS"
_STATUS_CODES = nhs_number_status.TRACED | set(nhs_number_status.NOT_TRACED)


def patient(
    message: Any, rules: NhsNumberRules, warnings: list[str], system: str | None = None
) -> dict[str, str]:
    """The NHS number (by `rules`) if valid, and the first local identifier; an NHS number PID-32
    says was not traced gives way to the local identifier. What was let through is added to
    `warnings`, naming the field. `system` is the source system the mapping profile names, the
    last issuer a local identifier can have."""
    # CX.4 is an HD: its namespace id (CX.4.1) or universal id (CX.4.2, an OID) may name it.
    authorities = {a.upper() for a in rules.authorities} | {NHS_NUMBER_OID}
    kinds = {k.upper() for k in rules.identifier_types}
    nhs_numbers: list[tuple[str, str]] = []
    local: dict[str, str] | None = None
    for number in range(1, repetitions(message, "PID", 3) + 1):
        identifier = read_id(message, "PID", 3, 1, number)
        if not identifier:
            continue
        kind = text(message, "PID", 3, 5, number).upper()
        authority = read_id(message, "PID", 3, 4, number)
        universal = read_id(message, "PID", 3, 4, number, subcomponent=2)
        if kind in kinds or {authority.upper(), universal.upper()} & authorities:
            nhs_numbers.append(("PID-3", identifier))
        elif local is None:
            # The issuer: CX.4 by its namespace id, else its universal id (an OID alone, as
            # IHE and many US feeds name it: two authorities so named are two systems), else
            # the sending facility (MSH-4), else the sending application (MSH-3), as
            # feeds that name neither send an MRN alone, else the system the profile names
            # for a feed whose MSH-3 is empty (as the message's source is named).
            issuer = (
                authority
                or universal
                or read_id(message, "MSH", 4)
                or read_id(message, "MSH", 3)
                or system
            )
            if issuer:
                local = {"local_id": identifier, "id_system": issuer}
    if rules.read_pid2 and read_id(message, "PID", 2):
        # PID-2 is the NHS number unless its identifier type (CX.5) says it is another kind
        # (Cerner sends the MRN there, `12345^^^PATIENT MASTER^MRN`) and no NHS authority
        # (CX.4) says otherwise: such a number would name another patient.
        kind = text(message, "PID", 2, 5).upper()
        authority = read_id(message, "PID", 2, 4)
        universal = read_id(message, "PID", 2, 4, subcomponent=2)
        named_nhs = {authority.upper(), universal.upper()} & authorities
        if not kind or kind in kinds or named_nhs:
            nhs_numbers.append(("PID-2", read_id(message, "PID", 2)))
    for where, candidate in nhs_numbers:
        problem = nhs_number_problem(normalise_nhs_number(candidate))
        if problem is None:
            why = nhs_number_status.untraced(trace_statuses(message))
            if why is not None:
                warnings.append(_untraced_warning(why, local))
            return nhs_number_status.identity(candidate, local, why)
        if local is not None:
            warnings.append(f"{where}: NHS number {problem}; the local id is used")
    if nhs_numbers and local is None:
        # Refused by contract validation, which names the check that failed.
        return {"nhs_number": nhs_numbers[0][1]}
    if local is None:
        if repetitions(message, "PID", 3) and text(message, "PID", 3):
            raise Refused(MISSING_FIELD, "PID-3.4", "a local identifier needs its authority")
        raise Refused(MISSING_FIELD, "PID-3", "PID-3 has no patient identifier")
    return local


def trace_statuses(message: Any) -> list[nhs_number_status.Status]:
    """The NHS Number Status Indicator Codes PID-32 holds (`NSTS02` read as `02`), each with its
    text when sent as a coded element (CWE.2, HL7 v2.7), in the order sent."""
    statuses: list[nhs_number_status.Status] = []
    for number in range(1, repetitions(message, "PID", 32) + 1):
        sent = text(message, "PID", 32, 1, number)
        code = sent[len(_STATUS_PREFIX) :] if sent.upper().startswith(_STATUS_PREFIX) else sent
        if code in _STATUS_CODES:
            statuses.append((code, text(message, "PID", 32, 2, number) or None))
    return statuses


def _untraced_warning(why: str, local: dict[str, str] | None) -> str:
    """The warning on an NHS number PID-32 says was not traced (`why`)."""
    said = f"PID-32: the NHS number is not a traced one (status {why})"
    if local is None:
        return f"{said} and PID-3 holds no local id: the number is used as sent"
    return (
        f"{said}: the patient is the local id ({local['id_system']}) alone, linked to the "
        "number once a message says NSTS01, number present and verified"
    )
