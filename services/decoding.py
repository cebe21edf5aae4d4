"""An event's bytes read as the JSON document they hold: bare, in a Schema Registry frame, or as
the payload of a Kafka Connect envelope.

Confluent Schema Registry's serializers write a zero "magic" byte and the schema's 4-byte id
before the payload (docs.confluent.io, "Wire format"). An integration team whose platform
publishes through Confluent's JSON Schema serializer sends the contract's JSON behind those
five bytes, and it is read as if sent bare (the contract is checked as for any event); one using
the Avro or Protobuf serializer sends a binary payload, refused saying so. JSON never starts with
a zero byte, so a frame is only looked for in a value that is not JSON as it stands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from flowsight.schemas.strict_json import (
    RepeatedKey,
    each_key_once,
    refuse_lone_surrogates,
    unreadable,
)

#: Beyond this, a number orjson read may have been an integer the standard library keeps exact
#: (orjson reads integers from -2**63 to 2**64 - 1 exactly, others as floats).
HUGE_FLOAT = 2.0**63
#: The byte every Schema Registry serializer writes first, and the length of its frame.
REGISTRY_MAGIC = b"\x00"
REGISTRY_FRAME_BYTES = 5


@dataclass(frozen=True, slots=True)
class NotJson:
    """Why some bytes hold no JSON document."""

    why: str


def decoded(raw: bytes) -> object:
    """The JSON document `raw` holds, bare or in a Schema Registry frame, or why it holds none;
    a Kafka Connect envelope's payload (below)."""
    document = _json(raw)
    if not isinstance(document, NotJson):
        return _connect_payload(document)
    if not _registry_framed(raw):
        return document
    schema_id = int.from_bytes(raw[1:REGISTRY_FRAME_BYTES], "big")
    payload = _json(raw[REGISTRY_FRAME_BYTES:])  # read once: a frame in a frame is no JSON
    if isinstance(payload, NotJson):
        return NotJson(
            f"a Confluent Schema Registry frame (schema id {schema_id}) around a payload that is "
            "not JSON (Avro or Protobuf?): publish the contract's JSON, plain or through the "
            "JSON Schema serializer"
        )
    return _connect_payload(payload)


def _connect_payload(document: object) -> object:
    """The event a Kafka Connect envelope carries, or `document` itself.

    Kafka Connect's JsonConverter writes each record as `{"schema": ..., "payload": ...}` unless
    told `schemas.enable=false`, and that is its default: a source connector (JDBC, Debezium's
    outbox router) publishing the contract's JSON so sends the event as its `payload`. No
    contract event has those two fields alone; the payload is checked as any event is.
    """
    if type(document) is dict and len(document) == 2 and "schema" in document:
        payload = document.get("payload")
        if type(payload) is dict:
            return payload
    return document


def _registry_framed(raw: bytes) -> bool:
    return len(raw) > REGISTRY_FRAME_BYTES and raw[:1] == REGISTRY_MAGIC


def _json(raw: bytes) -> object:
    """The JSON document `raw` holds, or why it holds none."""
    # orjson for speed. What it refuses (NaN, infinities, lone surrogates, UTF-16 bodies) or
    # reads otherwise (an integer beyond 64 bits becomes a float) is read by the standard
    # library instead, so every event keeps the outcome and the message it always had.
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _standard_json(raw)
    # One walk of the decoded values finds a number orjson may have read otherwise, and counts
    # the strings it kept (~2 µs for a simulated event; searching the bytes for 19 digits or an
    # exponent first cost ~11 µs; docs/benchmarks.md). orjson keeps the last value of a key
    # written twice, where the gateways' strict reader refuses the body: the bytes then hold
    # more strings (two quotes each) than the document. With a backslash a quote may be
    # escaped, and the count says nothing: such a body is read again, strictly.
    strings = _strings(document)
    if strings < 0 or b"\\" in raw or raw.count(b'"') != 2 * strings:
        return _standard_json(raw)
    return document


def _strings(document: object) -> int:
    """How many strings `document` holds, names of object members included, at every depth;
    -1 when it holds a float beyond HUGE_FLOAT. Exact types, no generator: orjson makes only
    these."""
    values: Iterable[object]
    if type(document) is dict:
        strings, values = len(document), document.values()
    elif type(document) is list:
        strings, values = 0, document
    elif type(document) is float:
        return 0 if -HUGE_FLOAT < document < HUGE_FLOAT else -1
    else:
        return 1 if type(document) is str else 0
    for value in values:
        kind = type(value)
        if kind is str:
            strings += 1
        elif kind is dict or kind is list:
            inner = _strings(value)
            if inner < 0:
                return -1
            strings += inner
        elif kind is float and not -HUGE_FLOAT < value < HUGE_FLOAT:
            return -1
    return strings


def _standard_json(raw: bytes) -> object:
    """`raw` read by the standard library's decoder, each key once in an object, or why it
    cannot be."""
    try:
        document = json.loads(raw, object_pairs_hook=each_key_once)
        refuse_lone_surrogates(raw, document)
        return document
    except RepeatedKey as error:  # which of its values the sender meant is unknowable
        return NotJson(str(error))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        # Not the traceback, which holds the body: the reason, in the sender's words.
        return NotJson(f"not valid JSON: {unreadable(error)}")
