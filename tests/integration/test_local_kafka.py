"""The local Kafka runner starts a real broker that round-trips messages, is reused, and stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from flowsight.devtools.local.kafka import LocalKafka, broker_answers
from flowsight.settings import Settings
from tests.integration.stack import free_port, listening

pytestmark = pytest.mark.integration


def local_kafka(
    data_dir: Path,
    port: int | None = None,
    controller_port: int | None = None,
    cache_dir: Path | None = None,
) -> LocalKafka:
    """A runner on free (or the given) ports, never the developer's 9092, with state in data_dir."""
    settings = Settings(
        environment="local",
        kafka_bootstrap=f"127.0.0.1:{port or free_port()}",
        kafka_controller_port=controller_port or free_port(),
        data_dir=data_dir,
        **({"cache_dir": cache_dir} if cache_dir else {}),
    )
    return LocalKafka(settings, data_dir=data_dir / "kafka")


def cache_of_its_own(kafka: LocalKafka, directory: Path) -> Path:
    """A Kafka cache holding the jars `kafka` runs (linked, not downloaded again) and nothing
    else, so what a broker leaves in its cache is seen."""
    install = directory / kafka.install_dir.name
    install.mkdir(parents=True)
    (install / "libs").symlink_to(kafka.libs_dir)
    (install / ".complete").write_text(f"{kafka.version}\n")
    return directory


def java_options(runner: LocalKafka) -> list[str]:
    """The command line the running broker was started with."""
    pid = runner.status().pid
    assert pid is not None
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """One real broker for the module; a broker that cannot start fails the tests, never skips."""
    runner = local_kafka(tmp_path_factory.mktemp("kafka"))
    try:
        assert runner.start(timeout=120) is True
        yield runner
    finally:
        runner.stop()


async def test_round_trips_100_messages_with_keys_and_values(kafka: LocalKafka) -> None:
    topic = f"test.local-kafka.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()

    sent = {f"key-{i}".encode(): f"value-{i}-é".encode() for i in range(100)}
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    received: list[tuple[bytes | None, bytes | None]] = []
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=1000)
                received += [(m.key, m.value) for ms in batches.values() for m in ms]
    finally:
        await consumer.stop()

    assert len(received) == 100
    assert dict(received) == sent


async def test_start_reuses_a_broker_that_already_answers(
    kafka: LocalKafka, tmp_path: Path
) -> None:
    assert kafka.start() is False
    assert kafka.status().running

    # Another data dir on the same ports: it must reuse the broker, and not own (or stop) it.
    other = local_kafka(tmp_path, kafka.settings.kafka_port, kafka.settings.kafka_controller_port)
    assert other.start() is False
    status = other.status()
    assert status.answering and not status.running
    assert other.stop() is False
    assert await broker_answers(kafka.bootstrap)


async def test_stop_leaves_nothing_listening_and_restart_reuses_the_store(
    kafka: LocalKafka, tmp_path: Path
) -> None:
    # A second broker alongside the module's one: different ports and data dirs run side by side.
    runner = local_kafka(tmp_path, cache_dir=cache_of_its_own(kafka, tmp_path / "cache"))
    ports = (runner.settings.kafka_port, runner.settings.kafka_controller_port)
    try:
        assert runner.start() is True
        assert all(listening(port) for port in ports)
        assert runner.stop() is True
        assert not any(listening(port) for port in ports)
        assert not runner.status().running
        assert runner.stop() is False

        # The clean stop wrote the classes the broker loaded; the restart maps them, and the JVM
        # finds the archive fits (it says so on its output when it does not).
        assert runner.classes.path.is_file()
        assert (runner.log_dirs / "meta.properties").exists()
        written = runner.out_file.stat().st_size  # the first run's output: what it archived
        assert runner.start() is True  # the already formatted store is started, not reformatted
        assert await broker_answers(runner.bootstrap)
        assert f"-XX:SharedArchiveFile={runner.classes.path}" in java_options(runner)
        assert "[cds]" not in runner.out_file.read_bytes()[written:].decode(errors="replace")
        assert runner.stop() is True
        assert not any(listening(port) for port in ports)
    finally:
        runner.stop()
    assert await broker_answers(kafka.bootstrap)
