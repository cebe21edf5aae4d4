"""JSON as flowsight reads what a caller sends: each key once in an object, no `NaN` or
`Infinity` (not JSON, RFC 8259, though Python's reader takes them), and no lone surrogate
(`"\\udc00"` escapes half a UTF-16 pair: no character; Python reads it into a string that no
encoder then takes, and the answer, the dead letter and the database each failed on it, 500s
and a refusal lost). Pure.

Which of two values under one key a sender meant is unknowable (RFC 8259: names SHOULD be
unique), and readers differ: Python's keeps the last, others the first, so `"open": 0, ...,
"open": 12` would publish 12 to a sender who wrote 0, and a proxy reading the first value would
see another change than the one applied. FHIR JSON allows each property once (R4 json.html).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

#: The longest key a refusal quotes.
SHOWN_KEY_CHARS = 40


class RepeatedKey(ValueError):
    """A key appears twice in one object; the message names it."""


class LoneSurrogate(ValueError):
    """A string holds half of a UTF-16 pair; the message names it."""


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


def unreadable(error: BaseException) -> str:
    """Why JSON could not be read, in a sender's words (`beyond_python`, else the error's own)."""
    return beyond_python(error) or str(error)


def beyond_python(error: BaseException) -> str | None:
    """Why JSON could not be read when Python's reader, not the JSON, was the limit, or None:
    its own messages for a body nested too deeply or a number too long name its internals (its
    recursion depth, its setting `sys.set_int_max_str_digits`), which tell a sender nothing and
    a caller what runs here."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(error, ValueError) and "integer string conversion" in str(error):
        return f"holds a number of more than {sys.get_int_max_str_digits()} digits"
    return None


def loads(body: bytes | str) -> Any:
    """`body` read as strict JSON; ValueError (json.JSONDecodeError for bad syntax) if it is not,
    UnicodeDecodeError if its bytes are not UTF-8, -16 or -32."""
    value = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=each_key_once)
    refuse_lone_surrogates(body, value)
    return value


#: A `\u` escape of a surrogate: only such an escape can put one in a string read from JSON.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def refuse_lone_surrogates(body: bytes | str, value: Any) -> None:
    """LoneSurrogate if a string of `value` (read from `body`) holds one; a body that
    escapes no surrogate at all (nearly every one) is not walked."""
    # Decoded as `json.loads` decodes it (UTF-8, -16 or -32): a UTF-16 body's escapes are no
    # match for a search of its bytes.
    text = body.decode(json.detect_encoding(body), "replace") if isinstance(body, bytes) else body
    if _SURROGATE_ESCAPE.search(text) is None:
        return
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                found = item[error.start]
                raise LoneSurrogate(
                    f"a string holds a lone surrogate (\\u{ord(found):04x}), half of a UTF-16 "
                    "pair: no character"
                ) from None
