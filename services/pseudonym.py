"""Keyed pseudonyms: the only patient identity that leaves the validator."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from functools import lru_cache

from flowsight.schemas import text
from flowsight.schemas.events import PatientIdentity
from flowsight.schemas.nhs_number import is_valid_nhs_number

#: Characters that show nothing: those identifiers refuse (`schemas.text`: zero-width spaces,
#: joiners and marks, word joiners, the byte-order mark), a soft hyphen, and the direction
#: overrides and isolates. Between two digits they hide a number from a pattern while a reader
#: still sees it (`9\u200b434765919`).
INVISIBLE = "\u00ad" + text.INVISIBLE + "\u202a-\u202e\u2066-\u206f"
#: What people and systems put between an NHS number's digits: any space (a non-breaking one
#: pasted from a letter included), hyphens and dashes (en, em, minus, full-width), dots, commas,
#: underscores, slashes and brackets (`(943) 476-5919`), middle dots and bullets (`943·476·5919`).
SEPARATORS = "\\s.,_/()\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d\u00b7\u2022\u2027\u2219\u22c5"
#: Digits joined by up to three separators each (invisible characters anywhere between them):
#: a run that may hold an NHS number, cut into groups where something visible parts them.
_RUN = re.compile(rf"[0-9](?:[{INVISIBLE}]*(?:[{SEPARATORS}][{INVISIBLE}]*){{0,3}}[0-9])*")
_GROUP = re.compile(rf"[0-9](?:[{INVISIBLE}]*[0-9])*")
#: How people group an NHS number's ten digits: 3-3-4 (the NHS's own way), together, 4-3-3,
#: 3-4-3, 5-5, or one by one. A date and time (4-2-2-2) or a phone number (4-3-4) is none.
GROUPINGS = frozenset({(10,), (3, 3, 4), (4, 3, 3), (3, 4, 3), (5, 5), (1,) * 10})
NHS_NUMBER_BLANK = "[nhs-number?]"


def nhs_number_shapes(text: str) -> list[tuple[int, int]]:
    """Where in `text` (ASCII digits) ten digits are grouped as an NHS number is, each (start,
    end), in order; two may overlap (`0099 943 476 5919` holds 4-3-3 and 3-3-4). The shape of
    an NHS number, its check digit not tested, so a wrong check digit counts too."""
    found = []
    for run in _RUN.finditer(text):
        if run.end() - run.start() < 10:  # fewer than ten digits: most runs, cheaply
            continue
        groups = [(g.start(), g.end(), _count(g[0])) for g in _GROUP.finditer(run[0])]
        for first in range(len(groups)):
            counted = 0
            for last in range(first, len(groups)):
                counted += groups[last][2]
                if counted >= 10:
                    break
            grouping = tuple(size for _, _, size in groups[first : last + 1])
            if grouping in GROUPINGS:
                found.append((run.start() + groups[first][0], run.start() + groups[last][1]))
    return found


def without_nhs_numbers(text: str) -> str:
    """`text` with every NHS-number-shaped run blanked (full-width digits read as digits): what
    flowsight keeps outside the validator (logs, the audit log, notes). Shapes that overlap are
    blanked as one, so no part of either is left."""
    spans = _merged(nhs_number_shapes(_ascii_digits(text)))
    return _replaced(text, spans, lambda _: NHS_NUMBER_BLANK)


#: A character written as an escape, as `repr` and JSON write what they do not print or keep
#: out of ASCII (`\\xa0`, `\\u200b`, `\\uff19`), behind any number of backslashes (a repr
#: written into JSON doubles them).
_ESCAPE = re.compile(r"\\+(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def without_nhs_numbers_as_written(line: str) -> str:
    """`without_nhs_numbers` of a rendered log line, its escapes read as the characters they
    stand for: a number split by no-break or zero-width spaces, or in full-width digits, reaches
    the line as `943\\xa0476\\xa05919` or `\\uff19\\uff14...`, which no pattern over the
    line's own characters would blank."""
    if not _ESCAPE.search(line):
        return without_nhs_numbers(line)
    read: list[str] = []  # the line as read, an escape as its character
    starts: list[int] = []  # where in `line` each character read begins
    last = 0
    for escape in _ESCAPE.finditer(line):
        read.append(line[last : escape.start()])
        starts.extend(range(last, escape.start()))
        code = int(escape[0].lstrip("\\")[1:], 16)
        read.append(chr(code) if code <= 0x10FFFF else "?")
        starts.append(escape.start())
        last = escape.end()
    read.append(line[last:])
    starts.extend(range(last, len(line)))
    starts.append(len(line))
    shapes = _merged(nhs_number_shapes(_ascii_digits("".join(read))))
    spans = [(starts[start], starts[end]) for start, end in shapes]
    return without_nhs_numbers(_replaced(line, spans, lambda _: NHS_NUMBER_BLANK))


def without_nhs_numbers_in_text(text: str, key: bytes) -> str:
    """`text` (an id, a unit, a note: anything an event's sender wrote) with each run that is a
    valid NHS number replaced by a keyed token of its length: `n` and hexadecimal, never ten
    digits.

    Sources key events and episodes by whatever they have, the NHS number included (a care
    home's system without episodes, a visit numbered by the patient), and teams write it in a
    next step ("call 943 476 5919's family"). The token is the same for the same number and key,
    so an id and the cancellation naming it, or an event sent twice, still match; the same
    length keeps a text within its limit. A ten-digit run whose check digit fails is left as it
    is: it is no NHS number (a visit number, a timestamp's part). Two valid ones that overlap
    (`0099 943 476 5919`: which is the patient's cannot be told) become one token.
    """
    seen = _ascii_digits(text)  # full-width digits read as digits, one character for one
    valid = [
        (start, end)
        for start, end in nhs_number_shapes(seen)
        if is_valid_nhs_number(_digits(seen[start:end]))
    ]

    def token(span: tuple[int, int]) -> str:
        start, end = span
        return ("n" + _pseudonym(f"id:{_digits(seen[start:end])}", key))[: end - start]

    return _replaced(text, _merged(valid), token)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` (in order of their starts), those that overlap made one."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _replaced(
    text: str, spans: list[tuple[int, int]], replace: Callable[[tuple[int, int]], str]
) -> str:
    """`text` with each of `spans` (apart, in order) replaced by what `replace` makes of it."""
    if not spans:
        return text
    kept, last = [], 0
    for span in spans:
        kept += [text[last : span[0]], replace(span)]
        last = span[1]
    return "".join(kept) + text[last:]


def _count(group: str) -> int:
    return len(group) if group.isdigit() else len(_digits(group))


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return "".join(str(int(c)) if c.isdecimal() else c for c in text)


def identity_key(patient: PatientIdentity) -> str:
    """The normalised identifier a pseudonym is computed from: the NHS number when known."""
    if patient.nhs_number is not None:
        return f"nhs:{patient.nhs_number}"
    return _local_key(patient)


def _local_key(patient: PatientIdentity) -> str:
    # JSON keeps the two parts apart even when they contain colons (identifier systems are URIs).
    return "local:" + json.dumps([patient.id_system, patient.local_id], separators=(",", ":"))


def pseudonymise(patient: PatientIdentity, key: bytes) -> str:
    """HMAC-SHA-256 of the patient's normalised identifier, as 64 hex characters."""
    return _pseudonym(identity_key(patient), key)


def local_pseudonym(patient: PatientIdentity, key: bytes) -> str | None:
    """The pseudonym the patient's local identifier alone gives, when the NHS number is known
    too: the identity the same source may have sent before the number was traced
    (`services/identities.py`). None when the event names only one of the two."""
    if patient.nhs_number is None or patient.local_id is None:
        return None
    return _pseudonym(_local_key(patient), key)


def _pseudonym(identifier: str, key: bytes) -> str:
    keyed = _keyed(key).copy()  # half the cost of setting the key up again for each event
    keyed.update(identifier.encode())
    return keyed.hexdigest()


@lru_cache(maxsize=4)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)
