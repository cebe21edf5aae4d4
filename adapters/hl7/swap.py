"""A17, swap patients: two patients exchange beds, each mapped as the transfer it is.

An A17 carries a PID and a PV1 for each patient (HL7 v2.5 3.3.17). Each PV1-3 is where that
patient now is and its PV1-6 where they were, the other's bed, so each pair says what an A02 of
its own would: the pair is mapped as one (`mapping`), with the same ids (`<PV1-19>:transfer:
<EVN-6>`), the same rules (nothing within one unit; from the ED, the attendance ends) and the
same refusals. A PV1-6 left empty (Epic sends the second patient's so) is the other patient's
PV1-3, with a warning: in a swap each bed one patient left is the one the other took. Nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowsight.adapters.hl7.fields import names_a_place
from flowsight.adapters.hl7.outcome import Mapped, NoChange
from flowsight.adapters.hl7.parse import MISSING_SEGMENT
from flowsight.services.validation import Refused

SWAP = "A17"


def swapped(message: Any, transfer: Callable[[Any], Mapped | NoChange]) -> Mapped | NoChange:
    """The events of both patients' moves, each pair mapped by `transfer`, in the message's
    order; NoChange when neither patient changes unit. A refusal names the patient (1 or 2)."""
    results: list[Mapped | NoChange] = []
    warnings: list[str] = []
    for number, pair in enumerate(patient_pairs(message, warnings), 1):
        try:
            results.append(transfer(pair))
        except Refused as refused:
            why = refused.rejected
            said = f"patient {number} of the {SWAP}: {why.message}"
            raise Refused(why.reason, why.field, said) from None
    warnings += [warning for result in results for warning in result.warnings]
    mapped = [result for result in results if isinstance(result, Mapped)]
    events = [event for result in mapped for event in result.events]
    if not events:
        return NoChange("both patients stay within their units", "same_place", warnings)
    return Mapped(events, warnings, {k: v for result in mapped for k, v in result.times.items()})


def patient_pairs(message: Any, warnings: list[str]) -> list[Any]:
    """The message once per patient: its other segments with that patient's PID and PV1, an
    empty PV1-6 (prior location) taken from the other patient's PV1-3, noted in `warnings`."""
    names = [str(segment[0]) for segment in message]
    pids = [i for i, name in enumerate(names) if name == "PID"]
    visits = [i for i, name in enumerate(names) if name == "PV1"]
    if len(pids) < 2 or len(visits) < 2 or not pids[0] < visits[0] < pids[1] < visits[1]:
        raise Refused(
            MISSING_SEGMENT,
            "PID" if len(pids) < 2 else "PV1",
            f"an ADT^{SWAP} needs a PID then a PV1 for each of the two patients swapped",
        )
    others = [
        segment for name, segment in zip(names, message, strict=True) if name not in {"PID", "PV1"}
    ]
    pairs = [
        message.create_message([*others, message[pid], message[visit]])
        for pid, visit in zip(pids[:2], visits[:2], strict=True)
    ]
    return [
        _prior_from(pair, other, number, warnings)
        for number, (pair, other) in enumerate(zip(pairs, pairs[::-1], strict=True), 1)
    ]


def _prior_from(pair: Any, other: Any, number: int, warnings: list[str]) -> Any:
    """Patient `number`'s message `pair`, its PV1-6 the `other` pair's PV1-3 when it has none;
    as sent when it has one, or when the other's PV1-3 is empty too (then it is refused)."""
    if names_a_place(pair, 6) or not names_a_place(other, 3):
        return pair
    *segments, visit = pair
    filled = pair.create_segment(list(visit))
    while len(filled) <= 6:
        filled.append(pair.create_field([""]))
    filled[6] = other.segment("PV1")[3]
    warnings.append(
        f"PV1-6 of patient {number} of the {SWAP}: empty, so the other patient's PV1-3 (the bed "
        "they took is the one this patient left)"
    )
    return pair.create_message([*segments, filled])
