"""Kafka over TLS with SCRAM (issue 13, item 3), against the real local broker with a SASL_SSL
listener and a certificate authority made for this test: every flowsight client connects through
the same settings; a wrong password, no TLS or an unknown CA is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import SecretStr

from flowsight.adapters.kafka.admin import (
    BrokerUnreachable,
    ensure_topics,
    topic_partitions,
    wait_for_broker,
)
from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.adapters.kafka.security import client_options
from flowsight.devtools.local.kafka import LocalKafka, SecureListener
from flowsight.settings import Settings
from tests.adapters.kafka.certificates import (
    make_certificate_authority,
)
from tests.integration.stack import free_port

pytestmark = pytest.mark.integration

USER, PASSWORD = "flowsight-worker", "scram-password-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A broker with a SASL_SSL listener; the settings a flowsight process would use for it."""
    directory = tmp_path_factory.mktemp("kafka-sasl-ssl")
    ca, certificate, key = make_certificate_authority(directory)
    secure_port = free_port()
    plain = Settings(
        _env_file=None,
        environment="local",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        data_dir=directory,
    )
    broker = LocalKafka(
        plain,
        data_dir=directory / "kafka",
        secure=SecureListener(secure_port, certificate, key, {USER: PASSWORD}),
    )
    broker.start(timeout=180)
    try:
        yield Settings(
            _env_file=None,
            environment="local",
            kafka_bootstrap=f"127.0.0.1:{secure_port}",
            kafka_security_protocol="SASL_SSL",
            kafka_ssl_cafile=ca,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER,
            kafka_sasl_password=PASSWORD,
            topic_namespace=f"t{uuid.uuid4().hex[:10]}",
            topic_partitions=1,
            data_dir=directory,
        )
    finally:
        broker.stop()


async def read_one(settings: Settings, topic: str) -> bytes | None:
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        batch = await consumer.getmany(partition, timeout_ms=10_000)
        records = batch.get(partition, [])
        return records[0].value if records else None
    finally:
        await consumer.stop()


async def topic_retention(settings: Settings, topic: str) -> str:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})]
        )
    finally:
        await admin.close()
    entries = described[0].resources[0][4]
    return next(str(entry[1]) for entry in entries if entry[0] == "retention.ms")


async def test_the_right_credentials_publish_and_read_over_tls(secure_broker: Settings) -> None:
    settings = secure_broker
    ingest, dlq = settings.ingest_topic("RR8"), settings.dlq_topic

    await wait_for_broker(settings, within=30)
    assert set(await ensure_topics(settings, [ingest, dlq])) == {ingest, dlq}
    async with EventPublisher(settings) as publisher:
        await publisher.write(ingest, b'{"event_id": "e1"}', key=b"SPELL-1")

    assert await topic_partitions(settings, ingest) == [0]
    assert await read_one(settings, ingest) == b'{"event_id": "e1"}'
    # Retention is the information-governance decision, set on the topics themselves.
    assert await topic_retention(settings, ingest) == str(72 * 3_600_000)
    assert await topic_retention(settings, dlq) == str(14 * 24 * 3_600_000)


async def test_retention_is_brought_in_line_on_existing_topics(secure_broker: Settings) -> None:
    ingest = secure_broker.ingest_topic("RY6")
    await ensure_topics(secure_broker, [ingest])
    shorter = secure_broker.model_copy(update={"ingest_retention_hours": 24.0})

    assert await ensure_topics(shorter, [ingest]) == []
    assert await topic_retention(shorter, ingest) == str(24 * 3_600_000)


async def test_a_wrong_password_is_refused(secure_broker: Settings) -> None:
    wrong = secure_broker.model_copy(update={"kafka_sasl_password": SecretStr("not-" + PASSWORD)})

    with pytest.raises(BrokerUnreachable):
        await wait_for_broker(wrong, within=0)
    publisher = EventPublisher(wrong)
    with pytest.raises(Exception):  # noqa: B017 - aiokafka's authentication error, whichever
        await asyncio.wait_for(publisher.start(), timeout=30)
    await publisher.stop()


async def test_plain_text_and_an_unknown_certificate_authority_are_refused(
    secure_broker: Settings,
) -> None:
    plain = secure_broker.model_copy(
        update={"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_ssl_cafile": None}
    )
    system_cas = secure_broker.model_copy(update={"kafka_ssl_cafile": None})

    for settings in (plain, system_cas):
        with pytest.raises(BrokerUnreachable):
            await wait_for_broker(settings, within=0)
