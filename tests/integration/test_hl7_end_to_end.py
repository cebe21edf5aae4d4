"""HL7 v2 through the whole product: `flowsight hl7 listen` → Kafka → worker → API; a resend
changes nothing, and a thousand malformed messages are each answered and accounted for."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from flowsight.services.facts import LONDON
from tests.integration.feeds import pseudonym_of, read_topic
from tests.integration.stack import Stack, free_port, listening
from tests.integration.test_hl7_mllp import NHS_NUMBER, ack_of, adt, field, framed, send

pytestmark = pytest.mark.integration


def start_listener(stack: Stack) -> tuple[int, int]:
    port, metrics = free_port(), free_port()
    stack.start(
        "hl7",
        "listen",
        "--organisation",
        "RR8",
        "--port",
        str(port),
        "--service",
        "lth-wards",
        "--metrics-port",
        str(metrics),
    )
    stack.wait_until(lambda: listening(port), timeout=60, what="the MLLP listener")
    return port, metrics


def ward(stack: Stack) -> dict:
    return stack.get("/v1/services/lth-wards").json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_a01_sent_three_times_is_one_admission_in_the_normalised_stream_and_the_api(
    stack: Stack,
) -> None:
    port, _ = start_listener(stack)
    admitted = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    message = framed(adt("A01", "PAS0000777", at=admitted, visit="SPELL-777"))
    # The PAS resends after a lost ACK, twice, with the same message.
    acks = [ack_of(raw) for raw in asyncio.run(send(port, message, message, message, acks=3))]
    assert [field(a, "MSA", 1) for a in acks] == ["AA", "AA", "AA"]

    settings = stack.settings
    # The three admissions, and one link from the MRN's pseudonym to the NHS number's.
    records = asyncio.run(read_topic(settings.kafka_bootstrap, settings.events_topic, expected=4))
    kinds = Counter(json.loads(record.value)["event_type"] for record in records)
    assert kinds == {"admission": 3, "link": 1}
    (normalised,) = {
        record.value: record
        for record in records
        if json.loads(record.value)["event_type"] == "admission"
    }.values()
    event = json.loads(normalised.value)
    assert event["event_type"] == "admission" and event["service"] == "lth-wards"
    assert event["pseudonym"] == pseudonym_of(NHS_NUMBER) and "patient" not in event
    assert event["occurred_at"] == admitted.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert NHS_NUMBER.encode() not in normalised.value

    stack.wait_until(
        lambda: ward(stack)["current"]["in_service"] == 1, timeout=60, what="the admission"
    )
    assert ward(stack)["current"]["in_service"] == 1, "three sends, one patient in a bed"
    today = ward(stack)["today"]
    # Unless midnight (Europe/London, the day the figures count by) fell in the last two hours.
    if admitted.astimezone(LONDON).date() == datetime.now(UTC).astimezone(LONDON).date():
        assert today["starts"] == 1


def mutate(rng: random.Random, message: bytes) -> bytes:
    """One way a sending system gets HL7 wrong (never the MLLP block characters themselves)."""
    text = message.decode()
    segments = [s for s in text.split("\r") if s]
    how = rng.randrange(8)
    if how == 0:  # cut short
        text = text[: rng.randrange(len(text))]
    elif how == 1:  # a segment lost
        del segments[rng.randrange(len(segments))]
        text = "\r".join(segments)
    elif how == 2:  # a field of garbage, delimiters included
        index = rng.randrange(len(segments))
        fields = segments[index].split("|")
        fields[rng.randrange(len(fields))] = "".join(
            rng.choice("|^~\\&#x9Zé 0") for _ in range(rng.randrange(12))
        )
        segments[index] = "|".join(fields)
        text = "\r".join(segments)
    elif how == 3:  # another trigger or message type
        text = text.replace(
            "ADT^A01", rng.choice(["ADT^A99", "ADT^A08", "ORU^R01", "ADT^", "^^", "ADT^A03"])
        )
    elif how == 4:  # a wrong NHS number, and no hospital number to fall back on
        text = text.replace(NHS_NUMBER, "".join(rng.choice("0123456789") for _ in range(10)))
        text = text.replace("RR8123456^^^RR8^MR~", "")
    elif how == 5:  # a date that is not a date
        text = text.replace(
            text.split("|")[6], rng.choice(["2026-13-45", "nonsense", "99999999999999", ""])
        )
    elif how == 6:  # bytes that are not text
        return bytes(
            rng.choice([b for b in range(256) if b not in (0x0B, 0x1C)])
            for _ in range(rng.randrange(200))
        )
    else:  # a visit with no number, or no patient
        text = text.replace("SPELL", "").replace(
            "PID|1||", "PID|1|||" if rng.random() < 0.5 else "PID|"
        )
    return text.encode(errors="replace")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_thousand_malformed_messages_are_each_answered_and_accounted_for(stack: Stack) -> None:
    port, metrics = start_listener(stack)
    rng = random.Random(20261123)
    base = adt("A01", "PAS0001000")
    messages = [framed(mutate(rng, base)) for _ in range(1000)]
    acks = []
    for start in range(0, len(messages), 100):  # a hundred a connection, as engines reconnect
        chunk = messages[start : start + 100]
        acks += asyncio.run(send(port, *chunk, acks=len(chunk), pause=0))
    codes = [field(ack_of(raw), "MSA", 1) for raw in acks]
    assert len(codes) == 1000 and set(codes) <= {"AA", "AE", "AR"}
    assert codes.count("AE") + codes.count("AR") > 500, "the mutations break messages"

    page = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
    outcomes = {
        line.split('outcome="')[1].split('"')[0]: 0.0
        for line in page.splitlines()
        if line.startswith("flowsight_hl7_messages_total")
    }
    for line in page.splitlines():
        if line.startswith("flowsight_hl7_messages_total"):
            outcomes[line.split('outcome="')[1].split('"')[0]] += float(line.rsplit(" ", 1)[1])
    # A frame left empty (cut to nothing) is answered AR but holds no message: it is counted as
    # a framing error and not dead-lettered (docs/decisions.md).
    empty = sum(
        float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith('flowsight_hl7_framing_errors_total{kind="empty"}')
    )
    assert sum(outcomes.values()) + empty == 1000, (outcomes, empty)
    assert outcomes.get("published", 0) + outcomes.get("ignored", 0) == codes.count("AA")

    settings = stack.settings
    refused = codes.count("AE") + codes.count("AR")
    dead = asyncio.run(read_topic(settings.kafka_bootstrap, settings.dlq_topic, expected=refused))
    from_hl7 = [r for r in dead if dict(r.headers).get("error.gateway") == b"hl7-mllp"]
    assert len(from_hl7) == refused - empty, "every refusal but an empty frame's is dead-lettered"
    assert stack.processes["hl7"].process.poll() is None, "the listener is still running"
    # And it still takes a good message.
    (ack,) = asyncio.run(send(port, framed(adt("A01", "PAS0002000", visit="SPELL-2000")), acks=1))
    assert field(ack_of(ack), "MSA", 1) == "AA"
