"""Keyed pseudonyms: the only patient identity that leaves the validator."""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import lru_cache

from flowsight.schemas.events import PatientIdentity


def identity_key(patient: PatientIdentity) -> str:
    """The normalised identifier a pseudonym is computed from: the NHS number when known."""
    if patient.nhs_number is not None:
        return f"nhs:{patient.nhs_number}"
    # JSON keeps the two parts apart even when they contain colons (identifier systems are URIs).
    return "local:" + json.dumps([patient.id_system, patient.local_id], separators=(",", ":"))


def pseudonymise(patient: PatientIdentity, key: bytes) -> str:
    """HMAC-SHA-256 of the patient's normalised identifier, as 64 hex characters."""
    keyed = _keyed(key).copy()  # half the cost of setting the key up again for each event
    keyed.update(identity_key(patient).encode())
    return keyed.hexdigest()


@lru_cache(maxsize=4)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)
