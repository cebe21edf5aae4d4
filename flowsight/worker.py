"""`flowsight worker`: the stream processor, with its metrics endpoint and read-model sink."""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from flowsight.adapters.kafka.admin import ensure_topics, product_topics, wait_for_broker
from flowsight.adapters.readmodel.database import create_engine, describe
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.context import build_runtime
from flowsight.logs import logging_config
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings
from flowsight.streams.app import create_app
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink

log = logging.getLogger("flowsight.worker")


def prepare(settings: Settings, catalogue: Catalogue) -> None:
    """What must exist before the worker starts: a reachable broker, the topics, the schema."""

    async def _kafka() -> None:
        await wait_for_broker(settings, within=settings.kafka_wait_seconds)
        await ensure_topics(settings, product_topics(settings, catalogue))

    asyncio.run(_kafka())
    upgrade(settings.resolved_database_url)


def run_worker(settings: Settings) -> None:
    """Run the worker until it is stopped by a signal."""
    runtime = build_runtime(settings)
    catalogue = runtime.catalogue
    prepare(settings, catalogue)
    metrics = WorkerMetrics()
    if settings.worker_metrics_port:
        start_http_server(
            settings.worker_metrics_port,
            addr=settings.worker_metrics_host,
            registry=metrics.registry,
        )
    engine = create_engine(settings.resolved_database_url)
    flow = create_app(
        settings, runtime.validation, ReadModelSink(engine, catalogue, metrics), metrics
    )
    log.info(
        "worker starting: kafka %s, database %s, metrics on :%s",
        settings.kafka_bootstrap,
        describe(settings.resolved_database_url),
        settings.worker_metrics_port,
    )
    worker = faust.Worker(
        flow.app,
        loglevel=settings.log_level,
        logging_config=logging_config(settings),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
