"""The text fields of the contract, and the characters a sender may put in them."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

#: C0 control characters, DEL and C1 control characters (as a regular expression's character
#: range): no identifier, code or unit holds one. PostgreSQL's `text` cannot hold NUL at all: the
#: read model refused every row of a patient one of whose events carried one. A C1 is almost
#: always text mis-decoded, Windows-1252 bytes read as Latin-1 (0x92, a closing quote U+2019,
#: read as U+0092): kept, it would name a ward or an id no one can type or match.
#: With them, the bidirectional embedding, override and isolate controls (U+202A-U+202E,
#: U+2066-U+2069): text needs none of them to be written right to left, and one left open turned
#: the page's own words around it backwards ("Trojan Source", CVE-2021-42574): a next step ending
#: in U+202E showed "(referral to csv-svc)" as "(cvs-vsc ot larrefer)" on the caseload.
#: And, in an identifier, code or unit, the characters that print as nothing: zero-width
#: space, joiners and marks (U+200B-U+200F), word joiner and invisible operators (U+2060-U+2064)
#: and the byte-order mark (U+FEFF), as text pasted from a document brings them. "WARD7" and
#: "WARD\u200b7" look the same and are two units: a ward's patients split between two rows.
#: Free text keeps them (joiners shape some scripts' words).
INVISIBLE = r"\u200b-\u200f\u2060-\u2064\ufeff"
CONTROLS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069" + INVISIBLE
#: The same, less tab, LF and CR: free text may break lines.
CONTROLS_BUT_LINE_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"


def _refusing(controls: str, takes: str) -> AfterValidator:
    """A check refusing a value holding one of `controls`, naming the first and where it is."""
    found = re.compile(f"[{controls}]")
    invisible = re.compile(f"[{INVISIBLE}]")

    def check(value: str) -> str:
        control = found.search(value)
        if control:
            kind = "invisible" if invisible.match(control.group()) else "control"
            raise ValueError(
                f"holds {kind} character U+{ord(control.group()):04X} at character "
                f"{control.start() + 1}: {takes}"
            )
        return value

    return AfterValidator(check)


def _without(controls: str) -> str:
    """The JSON Schema pattern of a string holding none of `controls`."""
    return f"^[^{controls}]*$"


#: The check of one-line text, for a caller's text elsewhere (an API query's id): it reaches
#: PostgreSQL too, which refuses a NUL as an error of its own, not of the caller. Declared in a
#: JSON Schema as `{"pattern": ONE_LINE_PATTERN}`.
ONE_LINE = _refusing(CONTROLS, "a one-line text field takes none")
ONE_LINE_PATTERN = _without(CONTROLS)
#: The check of free text, which may break lines (an alert acknowledgement's note).
LINE_BREAKS_ONLY = _refusing(
    CONTROLS_BUT_LINE_BREAKS, "free text takes tabs and line breaks, no other"
)
LINE_BREAKS_ONLY_PATTERN = _without(CONTROLS_BUT_LINE_BREAKS)

#: An identifier, code or name, on one line: ids, units, priorities, identifier systems.
Text = Annotated[
    str,
    Field(min_length=1, max_length=128, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
    ONE_LINE,
]
#: What happens next for the patient, as the sending team words it (shown on the caseload).
NextStep = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="the next action for this patient, as the sending team words it; shown "
        "on the service's caseload (the latest referral's or assessment's), never in aggregates",
        json_schema_extra={"pattern": LINE_BREAKS_ONLY_PATTERN},
    ),
    LINE_BREAKS_ONLY,
]
