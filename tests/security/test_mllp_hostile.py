"""1,000 hostile MLLP connections and messages (slow, idle, huge, garbage, odd character sets, deep
repetition, many messages in a frame) while a well-behaved PAS sends ADT: every one of its messages
is acknowledged AA within its normal latency, and the listener counts the hostile ones refused or
closed (issue 13, "What must be shown").

Real parts: the listener on loopback publishing to the session's real Kafka broker, because
refused messages are dead-lettered through the same producer as the good ones, and that shared
path is part of what a hostile sender can load. The hostile senders run in a process of their own,
as they would on another host, so their own work does not slow the listener's event loop; the
well-behaved sender runs beside the listener, one persistent connection as a PAS keeps. The idle
timeout is 1 s here (300 s by default) so slow and idle connections are closed within the test.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from flowsight.adapters.hl7.limits import ConnectionLimits
from flowsight.adapters.hl7.listener import MllpListener
from flowsight.adapters.hl7.mapping import LocationMap
from flowsight.adapters.kafka.admin import ensure_topics, product_topics
from flowsight.adapters.kafka.producer import GatewayPublisher
from flowsight.context import build_runtime
from flowsight.settings import Settings
from tests.adapters.hl7.listening import END, START, adt, framed, msa
from tests.integration.stack import Stack, stack_env

pytestmark = pytest.mark.integration

CAP = 64
IDLE_TIMEOUT = 1.0
#: Hostile connections of each kind: 1,000 in all.
KINDS = {
    "idle": 100,  # opened together and never written to: over the cap, then idle
    "slowloris": 150,  # a frame's bytes one at a time, never finished
    "oversize": 100,  # a 600 KB frame, over the 512 KB limit
    "garbage": 150,  # random bytes, half of them framed
    "punycode": 100,  # MSH-18 PUNYCODE, 20 KB (18 s of event loop per 500 KB before)
    "idna": 100,  # MSH-18 IDNA (published, then dead-lettered, before)
    "unknown": 100,  # MSH-18 naming no character set
    "deep": 100,  # PID-3 with 20,000 repetitions (0.2 s of event loop each before)
    "batch": 100,  # one frame of 20 messages, each with an unknown character set
}
MESSAGES_PER_BATCH = 20
BASELINE_MESSAGES = 100


def hostile_message(kind: str, number: int, rng: random.Random) -> tuple[bytes, int]:
    """The bytes one hostile connection writes, and how many ACKs it should get back."""
    control = f"H{number}"
    if kind == "oversize":
        return framed(adt(control, extra="ZXX|" + "x" * 600_000)), 1
    if kind == "garbage":
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4_000)))
        noise = noise.replace(START, b"").replace(b"\x1c", b"")
        return (framed(noise or b"?"), 1) if number % 2 else (noise, 0)
    if kind in {"punycode", "idna", "unknown"}:
        charset = {"punycode": "PUNYCODE", "idna": "IDNA", "unknown": "X-KLINGON"}[kind]
        return framed(adt(control, charset=charset, extra="ZXX|" + "é" * 10_000)), 1
    if kind == "deep":
        deep = adt(control).replace(b"PID|1||", b"PID|1||" + b"~" * 20_000)
        return framed(deep), 1
    assert kind == "batch"
    frame = b"".join(adt(f"{control}-{n}", charset="EBCDIC") for n in range(MESSAGES_PER_BATCH))
    return framed(frame), MESSAGES_PER_BATCH


async def _hostile_connection(port: int, kind: str, number: int, seen: Counter[str]) -> None:
    rng = random.Random(number)
    try:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        seen[f"{kind}:refused"] += 1
        return
    try:
        async with asyncio.timeout(15):
            if kind in {"idle", "slowloris"}:
                # A byte every 50 ms for 1.5 s: never idle, never a whole message.
                trickle = (START + adt(f"S{number}"))[:30] if kind == "slowloris" else b""
                for byte in trickle:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)
                await reader.read()  # until the listener closes it
                seen[f"{kind}:closed"] += 1
                return
            payload, expected = hostile_message(kind, number, rng)
            writer.write(payload)
            await writer.drain()
            if not expected:
                seen[f"{kind}:sent"] += 1
                return
            for _ in range(expected):
                reply = await reader.readuntil(END)
                seen[f"{kind}:{msa(reply.removeprefix(START).removesuffix(END))[0]}"] += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        seen[f"{kind}:closed"] += 1
    except TimeoutError:
        seen[f"{kind}:timeout"] += 1
    finally:
        writer.close()


async def _hostile_load(port: int) -> dict[str, int]:
    seen: Counter[str] = Counter()
    # First a flood of connections that hold a place without ever finishing a message, far
    # more than the cap at once: those over it are closed at once, the rest when idle. Then
    # the hostile messages, within the cap, so every one reaches the parser and is answered:
    # run together, the instant over-cap closes would race the idle ones for the places.
    flood = [
        _hostile_connection(port, kind, n, seen)
        for kind in ("idle", "slowloris")
        for n in range(KINDS[kind])
    ]
    messages = [
        kind
        for kind, count in KINDS.items()
        if kind not in {"idle", "slowloris"}
        for _ in range(count)
    ]
    random.Random(13).shuffle(messages)
    gate = asyncio.Semaphore(32)

    async def gated(kind: str, number: int) -> None:
        async with gate:
            await _hostile_connection(port, kind, number, seen)

    async with asyncio.timeout(45):  # never outlive the test, whatever the listener does
        await asyncio.gather(*flood)
        await asyncio.gather(*(gated(kind, 1_000 + n) for n, kind in enumerate(messages)))
    return dict(seen)


def hostile_load(port: int) -> dict[str, int]:
    """Run the 1,000 hostile connections against `port`; what each kind saw, counted."""
    return asyncio.run(_hostile_load(port))


async def longest_stall(stop: asyncio.Event) -> float:
    """The longest the event loop was held beyond a 10 ms sleep, until `stop` is set."""
    loop = asyncio.get_running_loop()
    longest = 0.0
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.01)
        longest = max(longest, loop.time() - before - 0.01)
    return longest


class WellBehavedSender:
    """A PAS on one persistent connection: one A01 at a time, timing each until its ACK."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.codes: Counter[str] = Counter()

    async def __aenter__(self) -> WellBehavedSender:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.writer.close()

    async def send(self) -> float:
        self.sent += 1
        control = f"GOOD{self.sent}"
        started = time.perf_counter()
        self.writer.write(framed(adt(control)))
        await self.writer.drain()
        reply = await self.reader.readuntil(END)
        took = time.perf_counter() - started
        code, acknowledged = msa(reply.removeprefix(START).removesuffix(END))
        self.codes[code if acknowledged == control else f"{code}-other"] += 1
        return took


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def counted(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return Stack(
        stack_env(kafka_bootstrap, "sqlite+aiosqlite:///unused", tmp_path), tmp_path
    ).settings


async def test_a_well_behaved_sender_is_served_through_1000_hostile_connections(
    settings: Settings,
) -> None:
    started = time.monotonic()
    runtime = build_runtime(settings)
    await ensure_topics(settings, product_topics(settings, runtime.catalogue))
    publisher = GatewayPublisher(settings)
    await publisher.start()
    registry = CollectorRegistry()
    # Every sender connects from loopback, one address standing for many hosts: the cap per
    # address is the listener's, so the flood meets the listener's cap as if from many.
    limits = ConnectionLimits(
        idle_timeout=IDLE_TIMEOUT, max_connections=CAP, max_connections_per_address=CAP
    )
    listener = MllpListener(
        settings,
        publisher,
        runtime.validation,
        "RR8",
        "127.0.0.1",
        0,
        locations=LocationMap("lth-wards"),
        registry=registry,
        limits=limits,
    )
    await listener.start()
    loop = asyncio.get_running_loop()
    # Not `with`: its exit waits for the hostile process, and must never block the event loop.
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"))
    try:
        async with asyncio.timeout(55), WellBehavedSender(listener.port) as pas:
            for _ in range(10):  # warm up: topic leaders, producer metadata
                await pas.send()
            baseline = [await pas.send() for _ in range(BASELINE_MESSAGES)]
            done = asyncio.Event()
            stall = asyncio.create_task(longest_stall(done))
            hostile = loop.run_in_executor(pool, hostile_load, listener.port)
            under_load: list[float] = []
            while not hostile.done() or len(under_load) < BASELINE_MESSAGES:
                under_load.append(await pas.send())
            seen = await hostile
            done.set()
            stalled = await stall
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        await listener.stop()
        await publisher.stop()

    # The well-behaved sender: every message AA, within its normal latency.
    assert pas.codes == Counter({"AA": pas.sent})
    # The slack is for the machine, not the listener: the suite's parallel processes (workers
    # with their child processes among them) share its CPUs, and took a p99 of 12 ms to 228 ms
    # on CI; a listener held up by hostile connections stalls for seconds, not tenths.
    bound = 5 * p99(baseline) + 0.500
    # (The longest event-loop stall is shown, not bounded: on a shared machine it measures the
    # scheduler too; tests/adapters/hl7/test_parse_limits.py bounds each message's work.)
    assert p99(under_load) <= bound, (p99(baseline), p99(under_load), len(under_load), stalled)

    # The hostile senders: never an AA, every reply an AR, slow and idle ones closed.
    assert sum(KINDS.values()) == 1_000
    assert not [key for key in seen if key.endswith((":AA", ":AE", ":timeout"))], seen
    replies = sum(count for key, count in seen.items() if key.endswith(":AR"))
    assert seen.get("batch:AR", 0) % MESSAGES_PER_BATCH == 0
    rejected = sum(
        counted(registry, "flowsight_hl7_messages_total", trigger=trigger, outcome="rejected")
        for trigger in ("A01", "other")
    )
    assert rejected == replies > 0
    closed = {
        why: counted(registry, "flowsight_hl7_connections_closed_total", why=why)
        for why in ("over_cap", "idle")
    }
    assert closed["over_cap"] >= 1 and closed["idle"] >= 1
    assert closed["over_cap"] + closed["idle"] >= KINDS["idle"] + KINDS["slowloris"], seen
    assert counted(registry, "flowsight_hl7_framing_errors_total", kind="oversize") == seen.get(
        "oversize:AR", 0
    )
    published = counted(
        registry, "flowsight_hl7_messages_total", trigger="A01", outcome="published"
    )
    assert published == pas.sent, "nothing hostile was published"
    assert time.monotonic() - started < 60
