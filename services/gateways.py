"""Which of flowsight's gateways a record came through, as only the gateways can say it.

A gateway's records land on the organisation's ingest topic beside what the organisation
publishes to it directly, in the same shape: a publisher may name its system `fhir` in `source`
and set any Kafka header. So a gateway seals each record it writes: the header `flowsight-gateway`
holds its name and an HMAC-SHA-256 of the name and the record's value, under a key derived from
the pseudonym key, which publishers never hold. The validator checks the seal and, when it holds,
marks the validated event with `gateway`; a field a publisher cannot send (the contract refuses
unknown fields) nor write (only the validator and the tracker write to the events topic). A seal
that does not hold marks nothing: the event is taken as the publisher's own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

#: The Kafka header that carries a gateway's seal: `<gateway> <hex HMAC>`.
GATEWAY_HEADER = "flowsight-gateway"
#: The field of a validated event naming the gateway that sealed its record.
GATEWAY = "gateway"
_PURPOSE = b"flowsight gateway seal"


def seal(gateway: str, value: bytes, pseudonym_key: bytes) -> bytes:
    """The `GATEWAY_HEADER` value vouching that `gateway` wrote the record `value`."""
    return f"{gateway} {_digest(gateway, value, pseudonym_key)}".encode()


def sealed_by(
    value: bytes, headers: Mapping[str, bytes] | None, pseudonym_key: bytes
) -> str | None:
    """The gateway whose seal among `headers` holds for the record `value`, if any."""
    header = headers.get(GATEWAY_HEADER) if headers else None
    if header is None:
        return None
    name, _, digest = header.partition(b" ")
    gateway = name.decode("utf-8", errors="replace")
    expected = _digest(gateway, value, pseudonym_key).encode()
    return gateway if hmac.compare_digest(digest, expected) else None


def _digest(gateway: str, value: bytes, pseudonym_key: bytes) -> str:
    key = hmac.digest(pseudonym_key, _PURPOSE, hashlib.sha256)
    return hmac.new(key, gateway.encode() + b"\n" + value, hashlib.sha256).hexdigest()
