"""Talking to the Kafka cluster as an operator: is it there, and do our topics exist."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from flowsight.adapters.kafka.security import KafkaTarget, bootstrap_of, client_options
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings

HOUR_MS = 3_600_000
log = logging.getLogger("flowsight.kafka")


class BrokerUnreachable(RuntimeError):
    """No Kafka broker answered at the configured address."""


class _Quiet:
    """How many callers want aiokafka quiet now, and its level before the first of them."""

    callers = 0
    level_before = logging.NOTSET
    lock = threading.Lock()


@contextlib.contextmanager
def quiet_aiokafka() -> Iterator[None]:
    """While probing, aiokafka logs each refused connection as an error; the caller reports it.

    Callers overlap (concurrent `/readyz` requests, a benchmark's stages): aiokafka's level is
    set back only when the last of them is done. Each putting back the level it found left it
    silenced for good when they ended out of order: one found the other's CRITICAL."""
    logger = logging.getLogger("aiokafka")
    with _Quiet.lock:
        if not _Quiet.callers:
            _Quiet.level_before = logger.level
            logger.setLevel(logging.CRITICAL)
        _Quiet.callers += 1
    try:
        yield
    finally:
        with _Quiet.lock:
            _Quiet.callers -= 1
            if not _Quiet.callers:
                logger.setLevel(_Quiet.level_before)


async def wait_for_broker(target: KafkaTarget, *, within: float = 30.0) -> None:
    """Return once a broker at `target` answers a metadata request; raise BrokerUnreachable."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_error = "no answer"
    with quiet_aiokafka():
        while True:
            admin = AIOKafkaAdminClient(**client_options(target), request_timeout_ms=5000)
            try:
                await asyncio.wait_for(admin.start(), timeout=6)
                await asyncio.wait_for(admin.list_topics(), timeout=6)
                return
            except (KafkaError, OSError, TimeoutError) as error:
                last_error = str(error) or type(error).__name__
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            if loop.time() >= deadline:
                raise BrokerUnreachable(
                    f"cannot reach Kafka at {bootstrap_of(target)} (FLOWSIGHT_KAFKA_BOOTSTRAP): "
                    f"{last_error}. "
                    "Start a local broker with `flowsight kafka start`, or point "
                    "FLOWSIGHT_KAFKA_BOOTSTRAP at yours."
                )
            await asyncio.sleep(1)


def product_topics(settings: Settings, catalogue: Catalogue) -> list[str]:
    """Every topic flowsight reads or writes, for the organisations in the catalogue."""
    return [
        *(settings.ingest_topic(code) for code in catalogue.organisation_codes),
        settings.events_topic,
        settings.dlq_topic,
        settings.pressure_topic,
        settings.alerts_topic,
    ]


def retention_ms(settings: Settings, topic: str) -> int | None:
    """How long `topic` keeps raw messages, if it holds them: ingest and dead-letter topics carry
    NHS numbers and whole HL7 messages, so they keep them only as long as the settings say (an
    information-governance decision, docs/security.md). Other topics keep Kafka's default."""
    if topic == settings.dlq_topic:
        return round(settings.dlq_retention_days * 24 * HOUR_MS)
    if topic.startswith(f"{settings.topic_namespace}.ingest."):
        return round(settings.ingest_retention_hours * HOUR_MS)
    return None


async def ensure_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """Create the topics that do not exist yet, and set the retention of those holding raw
    messages (existing ones too); return the topics created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        wanted = list(dict.fromkeys(names))
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        new = [
            NewTopic(
                name=name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=_retention_config(settings, name),
            )
            for name in missing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created them between our look and our create
        # A topic made before retention was set (or with another value) is brought in line.
        held = [
            ConfigResource(ConfigResourceType.TOPIC, name, _retention_config(settings, name))
            for name in wanted
            if name in existing and retention_ms(settings, name) is not None
        ]
        if held:
            for response in await admin.alter_configs(held):
                for error_code, message, _kind, name in response.resources:
                    if error_code:  # e.g. no AlterConfigs permission: the cluster's admin sets it
                        log.warning("retention of %s not set: %s", name, message or error_code)
        return missing
    finally:
        await admin.close()


def _retention_config(settings: Settings, topic: str) -> dict[str, str]:
    retention = retention_ms(settings, topic)
    return {} if retention is None else {"retention.ms": str(retention)}


async def topic_partitions(target: KafkaTarget, topic: str) -> list[int]:
    """The partition numbers of `topic` (empty if it does not exist)."""
    admin = AIOKafkaAdminClient(**client_options(target))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return sorted(p["partition"] for p in entry.get("partitions", []))
    return []
