"""JSON as flowsight reads what a caller sends: each key once in an object, and no `NaN` or
`Infinity` (not JSON, RFC 8259, though Python's reader takes them). Pure.

Which of two values under one key a sender meant is unknowable (RFC 8259: names SHOULD be
unique), and readers differ: Python's keeps the last, others the first, so `"open": 0, ...,
"open": 12` would publish 12 to a sender who wrote 0, and a proxy reading the first value would
see another change than the one applied. FHIR JSON allows each property once (R4 json.html).
"""

from __future__ import annotations

import json
from typing import Any

#: The longest key a refusal quotes.
SHOWN_KEY_CHARS = 40


class RepeatedKey(ValueError):
    """A key appears twice in one object; the message names it."""


def each_key_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json`'s object_pairs_hook: an object, or RepeatedKey naming the first repeated key."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise RepeatedKey(f"the key {key[:SHOWN_KEY_CHARS]!r} appears twice in one object")
            seen.add(key)
    return found


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


#: A decoder of strict JSON, for reading values one by one (`raw_decode`).
DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=each_key_once)


def loads(body: bytes | str) -> Any:
    """`body` read as strict JSON; ValueError (json.JSONDecodeError for bad syntax) if it is not,
    UnicodeDecodeError if its bytes are not UTF-8, -16 or -32."""
    return json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=each_key_once)
