"""HL7 v2 over MLLP on real parts: a TCP client, the real listener, a real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hl7
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from flowsight.adapters.hl7.ack import build_ack
from flowsight.adapters.hl7.framing import Discarded, Frame, MllpFramer, Oversize
from flowsight.adapters.hl7.listener import MllpListener
from flowsight.adapters.hl7.mapping import LocationMap
from flowsight.adapters.hl7.parse import parse_message
from flowsight.adapters.kafka.admin import ensure_topics, product_topics
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.context import build_runtime
from flowsight.services.validation import Rejected
from flowsight.settings import Settings
from tests.adapters.hl7.listening import closed_by_peer
from tests.integration.stack import Stack, free_port, stack_env

pytestmark = pytest.mark.integration

NHS_NUMBER = "9434765919"
START, END = b"\x0b", b"\x1c\x0d"
LOCATIONS = LocationMap("lth-wards", {"A&E": "lth-ed"})


def hl7_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def adt(
    trigger: str = "A01",
    control: str = "PAS0000101",
    *,
    nhs_number: str = NHS_NUMBER,
    visit: str = "SPELL-55123",
    at: datetime | None = None,
    pv1: bool = True,
    extra: str = "",
) -> bytes:
    """An ADT message as a trust PAS sends it (HL7 v2.5), two hours ago unless told; MSH-15 and
    MSH-16 empty (original mode: answered AA, AE or AR)."""
    at = at or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    segments = [
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{hl7_time(at + timedelta(seconds=5))}||"
        f"ADT^{trigger}^ADT_A01|{control}|P|2.5|||||GBR|UNICODE UTF-8",
        f"EVN|{trigger}|{hl7_time(at + timedelta(seconds=3))}|||ADMCLERK^Clerk^Anne|{hl7_time(at)}",
        f"PID|1||RR8123456^^^RR8^MR~{nhs_number}^^^NHS^NH||O'Brien^Mary^Jane^^Mrs||19450312|F|||"
        "Flat 2 \\T\\ 3^12 Park Lane^Leeds^^LS1 1AA^GBR",
        "NK1|1|O'Brien^Peter|SON^Son",
    ]
    if pv1:
        segments.append(
            "PV1|1|I|WARD7^BAY2^BED3^RR8|E|||C1234567^Jones^Sarah^^^Dr|||GMED||||19|||"
            f"C1234567^Jones^Sarah^^^Dr||{visit}^^^RR8^VN"
        )
    segments += ["ZPV|fall-risk|high|bay 2\\F\\side room", *([extra] if extra else [])]
    return "\r".join(segments).encode() + b"\r"


def framed(message: bytes) -> bytes:
    return START + message + END


def ack_of(raw: bytes) -> Any:
    """Parse an ACK the way a sending engine would."""
    return hl7.parse(raw.decode())


def field(message: Any, segment: str, number: int, component: int = 1) -> str:
    try:
        return str(message.extract_field(segment, 1, number, 1, component, 1))
    except IndexError:  # the field is empty, so it has no such component
        return ""


async def send(port: int, *writes: bytes, acks: int, pause: float = 0.05) -> list[bytes]:
    """Write `writes` on one connection (pausing between them); read `acks` MLLP frames back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in writes:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)
        received = b""
        async with asyncio.timeout(30):
            while received.count(END) < acks:
                data = await reader.read(65536)
                assert data, f"connection closed after {received.count(END)} of {acks} ACKs"
                received += data
    finally:
        writer.close()
        await writer.wait_closed()
    frames = [part.removeprefix(START) for part in received.split(END)[:-1]]
    assert all(frames), received
    return frames


async def read_topic(bootstrap: str, topic: str, expected: int, settle: float = 1.0) -> list[Any]:
    """Every record on `topic`: wait for `expected`, then `settle` seconds for any extra."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        clock = asyncio.get_running_loop().time
        deadline = clock() + 30
        while len(records) < expected and clock() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        settled = clock() + settle
        while clock() < settled:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings for a namespace of this test's own, so no other test's records are seen."""
    return Stack(
        stack_env(kafka_bootstrap, "sqlite+aiosqlite:///unused", tmp_path), tmp_path
    ).settings


@asynccontextmanager
async def running_listener(
    settings: Settings, publisher: GatewayPublisher | None = None, **options: Any
) -> AsyncIterator[MllpListener]:
    runtime = build_runtime(settings)
    await ensure_topics(settings, product_topics(settings, runtime.catalogue))
    publisher = publisher or GatewayPublisher(settings)
    await publisher.start()
    listener = MllpListener(
        settings,
        publisher,
        runtime.validation,
        "RR8",
        "127.0.0.1",
        0,
        locations=LOCATIONS,
        **options,
    )
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()
        await publisher.stop()


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_valid_a01_is_acknowledged_aa_once_its_event_is_on_the_ingest_topic(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="flowsight.hl7")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    registry = CollectorRegistry()
    async with running_listener(settings, registry=registry) as listener:
        (reply,) = await send(listener.port, framed(adt(at=at)), acks=1)

    ack = ack_of(reply)
    assert (field(ack, "MSA", 1), field(ack, "MSA", 2)) == ("AA", "PAS0000101")
    assert field(ack, "MSH", 9) == "ACK" and field(ack, "MSH", 9, 2) == "A01"
    # Sending and receiving application and facility are swapped.
    assert [field(ack, "MSH", n) for n in (3, 4, 5, 6)] == ["FLOWSIGHT", "LEEDS", "PAS", "RR8"]
    assert "\rERR" not in str(ack)

    (record,) = await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 1)
    assert record.key == b"SPELL-55123"
    assert json.loads(record.value) == {
        "schema_version": "1",
        "event_type": "admission",
        "event_id": f"SPELL-55123:admission:{at.strftime('%Y%m%dT%H%M%S')}Z",
        "source": "RR8/pas",
        "occurred_at": at.isoformat(),
        "patient": {"nhs_number": NHS_NUMBER, "local_id": "RR8123456", "id_system": "RR8"},
        "episode_id": "SPELL-55123",
        "recorded_at": (at + timedelta(seconds=3)).isoformat(),  # EVN-2
        "service": "lth-wards",
        "unit": "WARD7",
        "admission_method": "emergency",
    }
    assert count(registry, "flowsight_hl7_messages_total", trigger="A01", outcome="published") == 1
    assert "PAS0000101" in caplog.text, "each message is logged by its control id"
    assert NHS_NUMBER not in caplog.text and "SPELL-55123" not in caplog.text


async def test_the_hl7_library_never_logs_field_values(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Not DEBUG: aiokafka's DEBUG logs carry record bytes (flowsight runs aiokafka at WARNING).
    caplog.set_level("WARNING")
    # An escape sequence the library does not know: it dropped it, and would log the field. An
    # identifier holding one is refused, naming the field (the number without it would be read
    # as another).
    odd = adt(nhs_number=f"{NHS_NUMBER}\\Q\\")
    async with running_listener(settings) as listener:
        (reply,) = await send(listener.port, framed(odd), acks=1)
    assert field(ack_of(reply), "MSA", 1) == "AE"
    assert "PID-3" in field(ack_of(reply), "MSA", 3)
    assert NHS_NUMBER not in caplog.text


async def test_bad_messages_are_answered_ae_or_ar_with_err_and_dead_lettered_as_sent(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="flowsight.hl7")
    bad = [
        # Fails the Modulus 11 check digit, and no local id to fall back on.
        adt(control="BAD1", nhs_number="9434765918").replace(b"RR8123456^^^RR8^MR~", b""),
        adt(control="BAD2").replace(b"|P|2.5|", b"|T|2.5|"),  # a test feed: not taken here
        b"HELLO, this is not HL7",
        adt(control="BAD4", pv1=False),
    ]
    good = adt(control="GOOD5", visit="SPELL-2")
    registry = CollectorRegistry()
    async with running_listener(settings, registry=registry) as listener:
        replies = await send(listener.port, *map(framed, [*bad, good]), acks=5)

    acks = [ack_of(reply) for reply in replies]
    assert [field(a, "MSA", 1) for a in acks] == ["AE", "AR", "AR", "AE", "AA"]
    assert [field(a, "MSA", 2) for a in acks] == ["BAD1", "BAD2", "", "BAD4", "GOOD5"]
    err = [
        (field(a, "ERR", 2), field(a, "ERR", 2, 3), field(a, "ERR", 3), field(a, "ERR", 5))
        for a in acks[:4]
    ]
    assert err == [
        ("PID", "3", "102", "invalid_nhs_number"),
        ("MSH", "11", "202", "hl7_unsupported_processing_id"),
        ("", "", "100", "hl7_unparseable"),
        ("PV1", "", "100", "hl7_missing_segment"),
    ]
    assert "Modulus 11" in field(acks[0], "ERR", 8)

    dead = await read_topic(settings.kafka_bootstrap, settings.dlq_topic, len(bad))
    by_value = {record.value: {k: v.decode() for k, v in record.headers} for record in dead}
    assert len(dead) == len(bad) and set(by_value) == set(bad), "original bytes, one each"
    assert [(by_value[m]["error.reason"], by_value[m]["error.field"]) for m in bad] == [
        ("invalid_nhs_number", "PID-3"),
        ("hl7_unsupported_processing_id", "MSH-11"),
        ("hl7_unparseable", ""),
        ("hl7_missing_segment", "PV1"),
    ]
    for headers in by_value.values():
        assert headers["error.gateway"] == "hl7-mllp"
        assert headers["error.topic"] == settings.ingest_topic("RR8")
    # Only the good message, sent after the bad ones on the same connection, was published.
    ingest = await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 1)
    assert [json.loads(r.value)["episode_id"] for r in ingest] == ["SPELL-2"]
    assert count(registry, "flowsight_hl7_messages_total", trigger="A01", outcome="refused") == 2
    assert count(registry, "flowsight_hl7_messages_total", trigger="A01", outcome="rejected") == 1
    assert count(registry, "flowsight_hl7_messages_total", trigger="other", outcome="rejected") == 1
    assert "invalid_nhs_number" in caplog.text
    assert "9434765918" not in caplog.text and "O'Brien" not in caplog.text


async def test_framing_two_in_one_write_one_split_across_writes_garbage_and_a_broken_frame(
    settings: Settings,
) -> None:
    first, second, third = (adt(control=f"F{n}", visit=f"SPELL-F{n}") for n in (1, 2, 3))
    split = framed(third)
    registry = CollectorRegistry()
    async with running_listener(settings, registry=registry) as listener:
        # Line noise before a start block, then two messages in one write.
        both = await send(listener.port, b"\r\n\x00" + framed(first) + framed(second), acks=2)
        # One message in three reads, the last cut between the two end-block bytes.
        cuts = [split[:40], split[40:-1], split[-1:]]
        (alone,) = await send(listener.port, *cuts, acks=1)
        # A frame the sender never finished is not acknowledged, and breaks nothing.
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(START + adt(control="CUT")[:100])
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(100):  # the listener counts it once it reads the connection's end
            if count(registry, "flowsight_hl7_framing_errors_total", kind="incomplete"):
                break
            await asyncio.sleep(0.05)

    assert [field(ack_of(a), "MSA", 2) for a in [*both, alone]] == ["F1", "F2", "F3"]
    assert all(field(ack_of(a), "MSA", 1) == "AA" for a in [*both, alone])
    ingest = await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 3)
    assert sorted(json.loads(r.value)["episode_id"] for r in ingest) == [
        "SPELL-F1",
        "SPELL-F2",
        "SPELL-F3",
    ]
    assert count(registry, "flowsight_hl7_framing_errors_total", kind="garbage") == 1
    assert count(registry, "flowsight_hl7_framing_errors_total", kind="incomplete") == 1


async def test_the_same_a01_three_times_gives_three_aas_and_records_with_one_event_id(
    settings: Settings,
) -> None:
    message = framed(adt())
    async with running_listener(settings) as listener:
        replies = [(await send(listener.port, message, acks=1))[0] for _ in range(3)]

    assert [field(ack_of(r), "MSA", 1) for r in replies] == ["AA", "AA", "AA"]
    records = await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 3)
    assert len(records) == 3
    assert len({json.loads(r.value)["event_id"] for r in records}) == 1
    assert len({r.value for r in records}) == 1


async def test_an_oversize_message_is_rejected_and_the_connection_carries_on(
    settings: Settings,
) -> None:
    huge = adt(control="HUGE", extra="ZXX|" + "x" * 20_000)
    async with running_listener(settings, max_message_bytes=8_000) as listener:
        replies = await send(listener.port, framed(huge), framed(adt(control="NEXT")), acks=2)

    too_large, after = (ack_of(r) for r in replies)
    assert (field(too_large, "MSA", 1), field(too_large, "MSA", 2)) == ("AR", "HUGE")
    assert field(too_large, "ERR", 5) == "hl7_message_too_large"
    assert (field(after, "MSA", 1), field(after, "MSA", 2)) == ("AA", "NEXT")
    (dead,) = await read_topic(settings.kafka_bootstrap, settings.dlq_topic, 1)
    assert dict(dead.headers)["error.reason"] == b"hl7_message_too_large"
    assert huge.startswith(dead.value) and len(dead.value) < len(huge)


class UnavailableKafka(GatewayPublisher):
    """A broker that stops acknowledging: writes time out."""

    def __init__(self, settings: Settings, *, dead_letters_too: bool = False) -> None:
        super().__init__(settings)
        self.dead_letters_too = dead_letters_too

    async def publish(self, organisation: str, events: Any) -> None:
        raise KafkaTimeoutError()

    async def dead_letter(self, raw: bytes, **headers: Any) -> None:
        if self.dead_letters_too:
            raise KafkaTimeoutError()
        await super().dead_letter(raw, **headers)


async def test_when_kafka_does_not_take_the_event_the_sender_gets_ar_never_aa(
    settings: Settings,
) -> None:
    registry = CollectorRegistry()
    publisher = UnavailableKafka(settings, dead_letters_too=True)
    async with running_listener(settings, publisher, registry=registry) as listener:
        good, bad = await send(
            listener.port, framed(adt()), framed(adt(control="BAD", nhs_number="1")), acks=2
        )

    for reply in (good, bad):
        ack = ack_of(reply)
        assert field(ack, "MSA", 1) == "AR"
        assert (field(ack, "ERR", 3), field(ack, "ERR", 5)) == ("207", "kafka_unavailable")
    assert (
        count(registry, "flowsight_hl7_messages_total", trigger="A01", outcome="unavailable") == 2
    )
    assert await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 0) == []


@pytest.fixture
def location_map(tmp_path: Path) -> Path:
    path = tmp_path / "locations.yaml"
    path.write_text("# PV1-3.1 point of care: service id\nWARD7: lth-wards\nTOCH: lth-toc-hub\n")
    return path


@pytest.fixture
def cli_listener(settings: Settings, tmp_path: Path, location_map: Path) -> Iterator[int]:
    """`flowsight hl7 listen` as a process, until SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSIGHT_")}
    env |= {
        # The one mode that runs without API keys (the listener serves none); its data dir is
        # the test's, so nothing is written under the checkout.
        "FLOWSIGHT_ENVIRONMENT": "local",
        "FLOWSIGHT_DATA_DIR": str(tmp_path),
        "FLOWSIGHT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "FLOWSIGHT_TOPIC_NAMESPACE": settings.topic_namespace,
        "FLOWSIGHT_PSEUDONYM_KEY": settings.pseudonym_secret.decode(),
        "FLOWSIGHT_HL7_MAX_CONNECTIONS_PER_ADDRESS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "hl7-listen.log"
    command = [sys.executable, "-m", "flowsight", "hl7", "listen"]
    options = ["--organisation", "RR8", "--port", str(port), "--location-map", str(location_map)]
    options += ["--allow", "127.0.0.0/8", "--max-connections", "8", "--idle-timeout", "60"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, *options], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while "listening for HL7" not in log.read_text() and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    assert "listening for HL7" in log.read_text(), log.read_text()
    try:
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()


async def test_the_listen_command_serves_until_sigterm(
    settings: Settings, cli_listener: int
) -> None:
    (reply,) = await send(cli_listener, framed(adt(control="CLI1")), acks=1)
    assert (field(ack_of(reply), "MSA", 1), field(ack_of(reply), "MSA", 2)) == ("AA", "CLI1")
    (record,) = await read_topic(settings.kafka_bootstrap, settings.ingest_topic("RR8"), 1)
    assert json.loads(record.value)["service"] == "lth-wards"


async def test_the_listen_command_takes_its_cap_per_address_from_the_setting(
    cli_listener: int,
) -> None:
    # FLOWSIGHT_HL7_MAX_CONNECTIONS_PER_ADDRESS=1, and --max-connections 8.
    reader, writer = await asyncio.open_connection("127.0.0.1", cli_listener)
    try:
        writer.write(framed(adt(control="HELD")))
        assert b"MSA|AA|HELD" in await asyncio.wait_for(reader.readuntil(END), 30)
        second, second_writer = await asyncio.open_connection("127.0.0.1", cli_listener)
        assert await closed_by_peer(second, within=10), "a second from the address is closed"
        second_writer.close()
        elsewhere, elsewhere_writer = await asyncio.open_connection(
            "127.0.0.1", cli_listener, local_addr=("127.0.0.2", 0)
        )
        elsewhere_writer.write(framed(adt(control="ELSEWHERE")))
        assert b"MSA|AA|ELSEWHERE" in await asyncio.wait_for(elsewhere.readuntil(END), 30)
        elsewhere_writer.close()
    finally:
        writer.close()


# The framer and the ACK builder alone, without a network: the edge cases TCP rarely produces.


def test_frames_fed_one_byte_at_a_time_come_out_whole() -> None:
    framer = MllpFramer()
    stream = framed(b"MSH|one\r") + b"\n" + framed(b"MSH|two\r")
    found = [item for byte in stream for item in framer.feed(bytes([byte]))]
    assert found == [Frame(b"MSH|one\r"), Discarded("garbage", 1), Frame(b"MSH|two\r")]


def test_an_end_block_without_its_carriage_return_still_ends_the_frame() -> None:
    # Some interface engines end a frame with 0x1C alone; waiting for 0x0D, the sender would
    # time out and resend the same message without end.
    framer = MllpFramer()
    bare = START + b"MSH|one\r" + b"\x1c"

    assert framer.feed(bare) == [Frame(b"MSH|one\r")]
    # Its 0x0D in the next read is the end block's, not a stray byte.
    assert framer.feed(b"\r" + framed(b"MSH|two\r")) == [Frame(b"MSH|two\r")]
    assert framer.feed(bare + bare) == [Frame(b"MSH|one\r"), Frame(b"MSH|one\r")]
    assert framer.finish() == []


def test_a_new_start_block_abandons_the_unfinished_frame() -> None:
    found = MllpFramer().feed(START + b"MSH|cut" + framed(b"MSH|whole\r"))
    assert found == [Discarded("incomplete", 7), Frame(b"MSH|whole\r")]


def test_an_oversize_frame_is_dropped_as_it_streams_keeping_its_head() -> None:
    framer = MllpFramer(max_message_bytes=100)
    big = framed(b"MSH|" + b"x" * 996)
    found = [item for n in range(0, len(big), 10) for item in framer.feed(big[n : n + 10])]
    assert found == [Oversize(1000, b"MSH|" + b"x" * 96)]
    assert framer.feed(framed(b"MSH|next\r")) == [Frame(b"MSH|next\r")]


def test_a_frame_cut_off_by_the_connection_closing_is_reported() -> None:
    framer = MllpFramer()
    assert framer.feed(b"junk" + START + b"MSH|half") == [Discarded("garbage", 4)]
    assert framer.finish() == [Discarded("incomplete", 8)]


def test_an_ack_answers_even_a_header_without_a_trigger() -> None:
    header = parse_message(b"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|20261123||ADT|X1|P|2.5\r").message
    error = Rejected("hl7_unsupported_trigger", "MSH-9.2", "no trigger")
    ack = ack_of(
        str(build_ack(header, "AR", application="FS", facility="RR8", error=error)).encode()
    )
    assert (field(ack, "MSA", 1), field(ack, "MSA", 2), field(ack, "ERR", 3)) == ("AR", "X1", "201")
    assert (field(ack, "ERR", 2), field(ack, "ERR", 2, 3), field(ack, "ERR", 2, 5)) == (
        "MSH",
        "9",
        "2",
    )
