"""Keyed pseudonyms: the only patient identity that leaves the validator."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from functools import lru_cache

from flowsight.schemas.events import PatientIdentity
from flowsight.schemas.nhs_number import is_valid_nhs_number

#: Characters that show nothing: a soft hyphen, zero-width spaces and joiners, direction marks
#: and overrides, word joiners, the byte-order mark. Between two digits they hide a number from
#: a pattern while a reader still sees it (`9\u200b434765919`).
INVISIBLE = "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_GAP = f"[{INVISIBLE}]*"
_APART = f"[\\s.{INVISIBLE}-]{{0,3}}"
#: Ten digits, together or written 3-3-4, the groups apart by up to three spaces, tabs, line
#: breaks, hyphens or dots (`943 476 5919`, `943-476-5919`, one group a line), invisible
#: characters anywhere between the digits: the shape of an NHS number (its check digit is not
#: tested, so any such run counts, a wrong check digit included). What flowsight keeps outside
#: the validator (logs, the audit log, notes) is blanked where it has this shape.
NHS_NUMBER_SHAPE = re.compile(
    rf"(?<!\d)(?:\d{_GAP}){{2}}\d{_APART}(?:\d{_GAP}){{2}}\d{_APART}(?:\d{_GAP}){{3}}\d(?!\d)",
    re.ASCII,
)
NHS_NUMBER_BLANK = "[nhs-number?]"


def without_nhs_numbers(text: str) -> str:
    """`text` with every NHS-number-shaped run blanked (full-width digits read as digits)."""
    return NHS_NUMBER_SHAPE.sub(NHS_NUMBER_BLANK, _ascii_digits(text))


def without_nhs_numbers_in_text(text: str, key: bytes) -> str:
    """`text` (an id, a unit, a note: anything an event's sender wrote) with each run that is a
    valid NHS number replaced by a keyed token of its length: `n` and hexadecimal, never ten
    digits.

    Sources key events and episodes by whatever they have, the NHS number included (a care
    home's system without episodes, a visit numbered by the patient), and teams write it in a
    next step ("call 943 476 5919's family"). The token is the same for the same number and key,
    so an id and the cancellation naming it, or an event sent twice, still match; the same
    length keeps a text within its limit. A ten-digit run whose check digit fails is left as it
    is: it is no NHS number (a visit number, a timestamp's part).
    """
    seen = _ascii_digits(text)  # full-width digits read as digits, one character for one
    kept, last = [], 0
    for run in NHS_NUMBER_SHAPE.finditer(seen):
        token = _id_token(run.group(0), key)
        if token != run.group(0):
            kept += [text[last : run.start()], token]
            last = run.end()
    return "".join(kept) + text[last:] if kept else text


def _id_token(run: str, key: bytes) -> str:
    digits = re.sub(r"\D", "", run)
    if not is_valid_nhs_number(digits):
        return run
    return "n" + _pseudonym(f"id:{digits}", key)[: len(run) - 1]


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
