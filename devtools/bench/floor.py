"""faust's own floor: one agent that reads the ingest topics and does nothing with the records.

`bench pipeline` runs it as a second baseline of the same run, in a process of its own, with the
worker's transport, event loop, batches and commit interval. What it costs per record is what
any faust agent costs before doing any work; the worker pays it twice (the validator reads the
ingest topics, the tracker the events topic), so half its rate is the most the worker could do
on this stack (docs/benchmarks.md).

Run as `python -m flowsight.devtools.bench.floor RECORDS RESULT` with the stage's environment:
when the agent has read RECORDS records it writes, to RESULT, the records after its first batch
and the seconds and CPU seconds they took, and keeps running until it is stopped.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import faust
import orjson
import uvloop

from flowsight.adapters.kafka.producer import key_partitioner
from flowsight.adapters.kafka.security import faust_credentials
from flowsight.settings import Settings
from flowsight.streams.agents.validator import BATCH_SECONDS, BATCH_SIZE
from flowsight.streams.app import COMMIT_SECONDS
from flowsight.streams.batches import batches
from flowsight.streams.monitor import QuietMonitor
from flowsight.streams.transport import inline_transport, raw_topic


def floor_app(settings: Settings, organisations: list[str], records: int, result: Path) -> Any:
    """A faust app whose one agent reads the ingest topics and writes `result` after `records`."""
    app = faust.App(
        f"{settings.app_id}-floor",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        monitor=QuietMonitor(),
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=COMMIT_SECONDS,
        producer_partitioner=key_partitioner,
        datadir=str(settings.data_dir / "floor"),
    )
    app.transport = inline_transport(app)
    topic = raw_topic(app, *(settings.ingest_topic(code) for code in organisations))

    async def read(stream: Any) -> Any:
        seen, first, written = 0, (0, 0.0, 0.0), False
        async for batch in batches(stream, BATCH_SIZE, BATCH_SECONDS):
            seen += len(batch)
            if not first[0]:  # timed from the end of the first batch
                first = (seen, time.perf_counter(), time.process_time())
            if seen >= records and not written:
                wall, cpu = time.perf_counter() - first[1], time.process_time() - first[2]
                timed = seen - first[0]
                measured = orjson.dumps({"records": timed, "seconds": wall, "cpu": cpu})
                await asyncio.to_thread(result.write_bytes, measured)
                written = True
            yield None

    app.agent(topic, name="floor", concurrency=1)(read)
    return app


def main() -> None:
    from flowsight.adapters.catalogue import load_catalogue

    records, result = int(sys.argv[1]), Path(sys.argv[2])
    settings = Settings()
    organisations = load_catalogue(settings.catalogue_path).organisation_codes
    app = floor_app(settings, organisations, records, result)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as the worker
    worker = faust.Worker(app, loglevel="WARNING", redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
