"""What an audit line says of a request: the resource read (its path and the query parameters
its route reads, as it read them) and the client it came from (`api.deps.audit_read`)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request

from flowsight.schemas.text import CONTROLS
from flowsight.services.pseudonym import without_nhs_numbers

#: The longest resource the audit log keeps: its column's width (PostgreSQL refuses a longer
#: one, and the read with it).
AUDITED_CHARS = 256

#: The query parameters a route reads as whole numbers (`limit`, `offset`, `level`).
_NUMBERS = (int, int | None)
#: The most characters of the largest number a route takes (an offset's 2**31 - 1).
_NUMBER_CHARS = 10


def resource(request: Request) -> str:
    """The path and the query parameters the route takes, as read: one sent twice as its last
    value (`query_params.get`), a number padded past any a route takes as its value (`0…05`:
    5), so that it cannot push the rest (the service read) out of the line; nothing else of the
    query, and nothing shaped like an NHS number."""
    route = request.scope.get("route")
    params = _query_params(getattr(route, "dependant", None))
    numbers = {param.alias for param in params if param.field_info.annotation in _NUMBERS}
    # Blanked as read, before any encoding: a number encoded (`943+476+5919`, `943%2F476`) is
    # no longer shaped as one, and would be kept whole.
    kept = {
        name: without_nhs_numbers(
            _as_number(value) if name in numbers else _DIGIT_GROUPS.sub("", value)
        )
        for name, value in request.query_params.multi_items()
        if name in {param.alias for param in params}
    }
    path = _escaped(without_nhs_numbers(request.url.path))
    return (path + (f"?{urlencode(kept, safe=_BLANK)}" if kept else ""))[:AUDITED_CHARS]


def _as_number(value: str) -> str:
    """A number as written without its underscores (`0_101_011_234`, then blanked as the NHS
    number it is shaped as); written longer than any number a route takes (zeros or spaces
    before or after it), as its value; as sent when it is none (a refusal's)."""
    written = _DIGIT_GROUPS.sub("", value)
    if len(written) <= _NUMBER_CHARS:
        return written
    try:
        return str(int(written))
    except ValueError:
        return written


#: The punctuation of the blank (`[nhs-number?]`), left unencoded so that a blanked value reads
#: as one in the query (`?service=[nhs-number?]`).
_BLANK = "[]?"

#: An underscore between digits: a number's value reads `1_000` as 1000, so the audit log keeps
#: it without them, and a number split up that way is blanked like any other.
_DIGIT_GROUPS = re.compile(r"(?<=\d)_(?=\d)")


#: A control character, which a path may hold once decoded (`%00`) and PostgreSQL's text cannot
#: (a NUL): a refusal's line was lost with it, and the caller refused went unrecorded.
_CONTROL = re.compile(f"[{CONTROLS}]")


def _escaped(resource: str) -> str:
    """`resource` with each control character written back as the path had it (`%00`)."""
    return _CONTROL.sub(lambda found: quote(found.group()), resource)


def _query_params(dependant: Any) -> list[Any]:
    """Every query parameter a route's dependency tree declares."""
    if dependant is None:
        return []
    found = list(dependant.query_params)
    for child in dependant.dependencies:
        found += _query_params(child)
    return found


def client(request: Request) -> str | None:
    """Where the read came from: the client's address, or "not an address" when what the
    server was told (a forwarded header, say) is not one."""
    if request.client is None:
        return None
    try:
        return str(ipaddress.ip_address(request.client.host))
    except ValueError:
        return "not an address"
