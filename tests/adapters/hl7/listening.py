"""A real MLLP listener on loopback with a publisher that records instead of writing to Kafka,
and a client that sends framed messages and reads ACKs: for tests of the listener's own limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hl7
from prometheus_client import CollectorRegistry

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.hl7.listener import MllpListener
from flowsight.adapters.hl7.mapping import LocationMap
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.services.validation import ValidationContext
from flowsight.settings import DEFAULT_CATALOGUE, Settings

START, END = b"\x0b", b"\x1c\x0d"


class RecordingPublisher(GatewayPublisher):
    """Keeps what would be published and dead-lettered; never connects to Kafka."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.published: list[Mapping[str, Any]] = []
        self.dead: list[tuple[bytes, dict[str, Any]]] = []

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def publish(self, organisation: str, events: Sequence[Mapping[str, Any]]) -> None:
        self.published.extend(events)

    async def dead_letter(self, raw: bytes, **headers: Any) -> None:
        self.dead.append((raw, headers))


def adt(control: str = "C1", *, charset: str = "UNICODE UTF-8", extra: str = "") -> bytes:
    """A valid A01 (HL7 v2.5) an hour ago, with `extra` segments after PV1; MSH-15 and MSH-16
    empty (original mode: answered AA, AE or AR)."""
    at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y%m%d%H%M%S+0000")
    segments = [
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{at}||ADT^A01^ADT_A01|{control}|P|2.5|||||GBR|"
        + charset,
        f"EVN|A01|{at}|||ADMCLERK^Clerk^Anne|{at}",
        "PID|1||RR8123456^^^RR8^MR~9434765919^^^NHS^NH||O'Brien^Mary||19450312|F",
        "PV1|1|I|WARD7^BAY2^BED3^RR8|E|||C1234567^Jones^Sarah^^^Dr|||GMED||||19|||"
        f"C1234567^Jones^Sarah^^^Dr||SPELL-{control}^^^RR8^VN",
        *([extra] if extra else []),
    ]
    return "\r".join(segments).encode() + b"\r"


def framed(message: bytes) -> bytes:
    return START + message + END


def msa(reply: bytes) -> tuple[str, str]:
    """MSA-1 and MSA-2 of an ACK."""
    ack = hl7.parse(reply.decode("latin-1"))
    return str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))


def err(reply: bytes, number: int) -> str:
    """A field of the ACK's ERR segment."""
    return str(hl7.parse(reply.decode("latin-1")).segment("ERR")(number))


async def exchange(
    port: int, *messages: bytes, ssl: Any = None, within: float = 10.0, source: str | None = None
) -> list[bytes]:
    """Send each message framed on one connection (from the address `source`, if given: all of
    127.0.0.0/8 is loopback); the ACK of each, in order."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl, local_addr=local)
    try:
        replies = []
        async with asyncio.timeout(within):
            for message in messages:
                writer.write(framed(message))
                await writer.drain()
                received = await reader.readuntil(END)
                replies.append(received.removeprefix(START).removesuffix(END))
        return replies
    finally:
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)


async def closed_by_peer(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the listener closes the connection (EOF or reset) within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def settings(directory: Path) -> Settings:
    return Settings(environment="local", data_dir=directory, _env_file=None)


@asynccontextmanager
async def listening(
    directory: Path, registry: CollectorRegistry | None = None, **options: Any
) -> AsyncIterator[tuple[MllpListener, RecordingPublisher]]:
    """A listener for RR8 on a free loopback port, publishing to a recorder."""
    chosen = settings(directory)
    publisher = RecordingPublisher(chosen)
    context = ValidationContext(load_catalogue(DEFAULT_CATALOGUE), b"k" * 32, timedelta(minutes=5))
    listener = MllpListener(
        chosen,
        publisher,
        context,
        "RR8",
        "127.0.0.1",
        0,
        locations=LocationMap("lth-wards"),
        registry=registry if registry is not None else CollectorRegistry(),
        **options,
    )
    await listener.start()
    try:
        yield listener, publisher
    finally:
        await listener.stop()


def closed(listener: MllpListener, why: str) -> float:
    """How many connections the listener refused or closed for `why`."""
    return float(listener.metrics.closed.labels(why)._value.get())


async def holding(listener: MllpListener, connections: int, within: float = 5.0) -> None:
    """Wait until the listener holds `connections` open connections; fail after `within` s."""
    for _ in range(int(within * 100)):
        if listener.metrics.connections._value.get() == connections:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the listener did not hold {connections} connections in {within} s")
