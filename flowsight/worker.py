"""`flowsight worker`: the stream processor, with its metrics endpoint and read-model sink."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

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
from flowsight.streams.diagnose import CONSUMER_HEADING, consumer_state
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink
from flowsight.worker_health import faust_health, serve_health_and_metrics

log = logging.getLogger("flowsight.worker")


class FlowWorker(faust.Worker):
    """faust's worker; on SIGUSR1 it logs where each thread and asyncio task waits, then what
    its consumer knows of each partition (`streams/diagnose.py`).

    faust's own SIGUSR1 printed every frame's local variables straight to stderr, past the log's
    redaction: in the validator they can be an event not yet pseudonymised. Here only the frames
    are written, through the log."""

    def _on_sigusr1(self) -> None:
        log.warning("stacks, on SIGUSR1:\n%s", stacks())
        log.warning("%s\n%s", CONSUMER_HEADING, consumer_state(self.app))


def stacks() -> str:
    """Each thread's stack, then each asyncio task's (frames and code, no local variables)."""
    out = io.StringIO()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        out.write(f"THREAD {names.get(ident, ident)}\n")
        traceback.print_stack(frame, file=out)
    out.write("TASKS\n")
    for task in asyncio.all_tasks():
        out.write(f"Stack for {task!r} (most recent call last):\n")
        out.writelines(traceback.StackSummary.extract(_awaiting(task)).format())
    return out.getvalue()


def _awaiting(task: asyncio.Task[object]) -> Iterator[tuple[FrameType, int]]:
    """The frames of `task`, outermost first, down the chain of what each coroutine awaits
    (a suspended task's own stack is its outermost frame only)."""
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            return
        yield frame, frame.f_lineno
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)


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
    worker = FlowWorker(
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
