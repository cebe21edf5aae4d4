"""`flowsight worker`: the stream processor, with its metrics endpoint and read-model sink."""

from __future__ import annotations

import asyncio
import logging

import faust
import uvloop

from flowsight.adapters.kafka.admin import ensure_topics, product_topics, wait_for_broker
from flowsight.adapters.readmodel.database import create_engine, describe
from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively
from flowsight.context import build_runtime
from flowsight.heap import settle_heap, watch_heap
from flowsight.logs import logging_config
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings
from flowsight.streams.app import create_app
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink
from flowsight.worker_health import faust_health, serve_health_and_metrics

log = logging.getLogger("flowsight.worker")


def prepare(settings: Settings, catalogue: Catalogue) -> None:
    """What must exist before the worker starts: a reachable broker, the topics, the schema."""

    async def _kafka() -> None:
        await wait_for_broker(settings, within=settings.kafka_wait_seconds)
        await ensure_topics(settings, product_topics(settings, catalogue))

    asyncio.run(_kafka())
    # Workers started together must not all migrate at once (one would fail half-way).
    upgrade_exclusively(settings.resolved_database_url)


def run_worker(settings: Settings) -> None:
    """Run the worker until it is stopped by a signal."""
    runtime = build_runtime(settings)
    catalogue = runtime.catalogue
    prepare(settings, catalogue)
    metrics = WorkerMetrics()
    engine = create_engine(settings.resolved_database_url)
    flow = create_app(
        settings, runtime.validation, ReadModelSink(engine, catalogue, metrics), metrics
    )
    watch_heap(metrics.registry)
    if settings.worker_metrics_port:
        serve_health_and_metrics(
            settings.worker_metrics_port,
            settings.worker_metrics_host,
            metrics.registry,
            faust_health(flow.app, [flow.validator, flow.tracker]),
        )
    log.info(
        "worker starting: kafka %s, database %s, metrics and /healthz on :%s, member %s",
        settings.kafka_bootstrap,
        describe(settings.resolved_database_url),
        settings.worker_metrics_port,
        settings.group_instance_id,
    )
    # uvloop's event loop: faust and aiokafka make several loop turns a record, and uvloop's
    # cost a fraction of asyncio's (docs/benchmarks.md).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    worker = faust.Worker(
        flow.app,
        loglevel=settings.log_level,
        logging_config=logging_config(settings),
        redirect_stdouts=False,
    )
    # At WARNING and above faust's progress spinner sets the root logger to DEBUG, so every
    # debug call of faust and aiokafka (several per event) built a record only to drop it.
    worker.spinner = None
    # What is loaded now lives as long as the worker: out of the collector's reach, a full
    # collection no longer walks it (180 to 280 ms of CPU each, a stall of the agents every ~2 s).
    settle_heap()
    worker.execute_from_commandline()
