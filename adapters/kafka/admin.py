"""Talking to the Kafka cluster as an operator: is it there, and do our topics exist."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings


class BrokerUnreachable(RuntimeError):
    """No Kafka broker answered at the configured address."""


@contextlib.contextmanager
def quiet_aiokafka() -> Iterator[None]:
    """While probing, aiokafka logs each refused connection as an error; the caller reports it."""
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


async def wait_for_broker(bootstrap: str, *, within: float = 30.0) -> None:
    """Return once a broker at `bootstrap` answers a metadata request; raise BrokerUnreachable."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_error = "no answer"
    with quiet_aiokafka():
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
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
                    f"cannot reach Kafka at {bootstrap} (FLOWSIGHT_KAFKA_BOOTSTRAP): {last_error}. "
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


async def ensure_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in dict.fromkeys(names) if name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name=name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
            )
            for name in wanted
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another process created them between our look and our create
        return wanted
    finally:
        await admin.close()


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of `topic` (empty if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return sorted(p["partition"] for p in entry.get("partitions", []))
    return []
