"""Malformed input, made on purpose: mutations of valid events that sources get wrong."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from tests.schemas.examples import SPEC_EVENT_TYPES, example

Mutation = Callable[[random.Random, dict[str, Any]], bytes]

_JUNK_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    1e308,
    True,
    [],
    {},
    "\x00",
    "💥",
    "9" * 200,
    "2026-13-45T99:99:99Z",
    "not-a-date",
    "0000000000",
    "1234567890",
    {"nested": [1, 2]},
    "RR8/pas\n",
    "../../etc",
]


def _drop_field(rng: random.Random, event: dict[str, Any]) -> bytes:
    field = rng.choice(sorted(event))
    return json.dumps({k: v for k, v in event.items() if k != field}).encode()


def _junk_value(rng: random.Random, event: dict[str, Any]) -> bytes:
    field = rng.choice(sorted(event))
    return json.dumps({**event, field: rng.choice(_JUNK_VALUES)}).encode()


def _bad_nhs_number(rng: random.Random, event: dict[str, Any]) -> bytes:
    number = "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 10, 10, 10, 11])))
    return json.dumps({**event, "patient": {"nhs_number": number}}).encode()


def _unknown_field(rng: random.Random, event: dict[str, Any]) -> bytes:
    return json.dumps({**event, f"x_{rng.randint(0, 999)}": rng.choice(_JUNK_VALUES)}).encode()


def _truncated(rng: random.Random, event: dict[str, Any]) -> bytes:
    raw = json.dumps(event).encode()
    return raw[: rng.randint(0, len(raw) - 1)]


def _random_bytes(rng: random.Random, event: dict[str, Any]) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))


def _wrong_shape(rng: random.Random, event: dict[str, Any]) -> bytes:
    return json.dumps(rng.choice([[event], "admission", 42, None, [], True])).encode()


def _wrong_type(rng: random.Random, event: dict[str, Any]) -> bytes:
    other = rng.choice([t for t in SPEC_EVENT_TYPES if t != event["event_type"]])
    return json.dumps({**event, "event_type": other}).encode()


def _future(rng: random.Random, event: dict[str, Any]) -> bytes:
    return json.dumps(
        {**event, "occurred_at": f"{rng.randint(2031, 2999)}-01-01T00:00:00Z"}
    ).encode()


def _foreign_source(rng: random.Random, event: dict[str, Any]) -> bytes:
    return json.dumps({**event, "source": rng.choice(["RY6/systmone", "XYZ/ehr", "RR8"])}).encode()


MUTATIONS: list[Mutation] = [
    _drop_field,
    _junk_value,
    _bad_nhs_number,
    _unknown_field,
    _truncated,
    _random_bytes,
    _wrong_shape,
    _wrong_type,
    _future,
    _foreign_source,
]


def malformed_events(count: int, seed: int = 20261123) -> list[bytes]:
    """`count` malformed events, each a realistic event of some type broken in one way."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        event = example(rng.choice(SPEC_EVENT_TYPES))
        made.append(rng.choice(MUTATIONS)(rng, event))
    return made
