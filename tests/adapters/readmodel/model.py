"""A fresh SQLite read model fed as the worker feeds it: contract events validated and folded by
the core (`apply_batch`), written by the real sink, figures refreshed by the real refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import select

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.adapters.readmodel.tables import (
    anomalies,
    assessments,
    attendances,
    delays,
    queue_entries,
    referrals,
    service_daily,
    stays,
)
from flowsight.services.batch import apply_batch
from flowsight.services.facts import LONDON
from flowsight.services.journey import Event, ServiceMap
from flowsight.services.validation import Accepted, ValidationContext, validate_document
from flowsight.settings import DEFAULT_CATALOGUE
from flowsight.streams.daily import DailyRefresh, refresh_daily
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
SOURCE = {"RR8": "RR8/pas", "RY6": "RY6/systmone", "LCC": "LCC/mosaic"}
PSEUDONYM_KEY = b"read-model-test-key-0123456789abcd"
PATIENT_TABLES = (queue_entries, stays, delays, referrals, attendances, assessments, anomalies)


def nhs_number(n: int) -> str:
    """The n-th valid NHS number (Modulus 11) of a test series."""
    found = -1
    for stem in range(943476500, 943477000):
        digits = [int(d) for d in str(stem)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            found += 1
            if found == n:
                return f"{stem}{check}"
    raise ValueError(n)


def midnight(day: date) -> datetime:
    """00:00 (Europe/London) of `day`."""
    return datetime.combine(day, datetime.min.time(), tzinfo=LONDON)


class Feed:
    """Contract events as the organisations publish them, validated as the validator does."""

    def __init__(self) -> None:
        self.context = ValidationContext(CATALOGUE, PSEUDONYM_KEY, timedelta(minutes=5))
        self.events: list[Event] = []
        self.ids = count(1)

    def publish(
        self, event_type: str, service: str, when: datetime, patient: int = 0, **fields: Any
    ) -> Event:
        organisation = CATALOGUE.service(service).organisation  # type: ignore[union-attr]
        document = {
            "event_id": f"{event_type}-{next(self.ids)}",
            "schema_version": "1",
            "event_type": event_type,
            "source": SOURCE[organisation],
            "occurred_at": when.isoformat(),
            "service": service,
            **fields,
        }
        if event_type != "capacity":
            document.setdefault("patient", {"nhs_number": nhs_number(patient)})
            document.setdefault("episode_id", f"EP-{patient}")
        return self.accept(document)

    def accept(self, document: Event) -> Event:
        """A contract event of any source, validated and kept."""
        organisation = document["source"].split("/")[0]
        outcome = validate_document(
            document, organisation=organisation, context=self.context, now=datetime.now(UTC)
        )
        assert isinstance(outcome, Accepted), outcome
        self.events.append(outcome.event)
        return outcome.event

    def visit(
        self,
        service: str,
        patient: int,
        arrived: datetime,
        departed: datetime | None = None,
        outcome: str = "discharged",
    ) -> None:
        """An attendance: its arrival, then its departure with `outcome` unless still there."""
        self.publish("attendance", service, arrived, patient, arrived_at=arrived.isoformat())
        if departed is not None:
            self.publish(
                "attendance",
                service,
                departed,
                patient,
                arrived_at=arrived.isoformat(),
                departed_at=departed.isoformat(),
                outcome=outcome,
            )

    def ready(
        self, service: str, reviewed: datetime, patient: int, ready: datetime, **fields: Any
    ) -> Event:
        """A review that finds the patient no longer meets the criteria to reside."""
        return self.publish(
            "assessment",
            service,
            reviewed,
            patient,
            kind="ctr_review",
            status="completed",
            meets_criteria_to_reside=False,
            discharge_ready_at=ready.isoformat(),
            **fields,
        )


class ReadModel:
    """One read model, with the worker's sink and refresh over it."""

    def __init__(self, url: str, now: datetime | None = None) -> None:
        self.url = url
        self.engine = create_engine(self.url)
        self.metrics = WorkerMetrics()
        #: The sink's clock: the wall clock, or `now` for a test whose refreshes are all at
        #: `now` (else a run that crosses midnight marks days through a "today" they never reach).
        self.clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
        self.sink = ReadModelSink(self.engine, CATALOGUE, self.metrics, self.clock)
        self.journeys: dict[str, list[Event]] = {}
        self.capacity: dict[str, Event] = {}

    @classmethod
    async def open(cls, path: Path, now: datetime | None = None) -> ReadModel:
        """A fresh read model at `path`, migrated to the head revision; its sink writes at
        `now` (the wall clock without)."""
        return await cls.at(f"sqlite+aiosqlite:///{path}", now)

    @classmethod
    async def at(cls, url: str, now: datetime | None = None) -> ReadModel:
        """The empty database at `url` as a read model, migrated to the head revision."""
        await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
        return cls(url, now)

    async def fold(self, batch: Sequence[Event]) -> None:
        """One batch of the tracker: fold with the core, write with the sink."""
        changes = apply_batch(
            list(batch),
            self.journeys.get,
            self.capacity.get,
            timedelta(days=60),
            ServiceMap.of(CATALOGUE),
        )
        assert not changes.refusals, changes.refusals
        self.journeys.update((p, j.to_stored()) for p, j in changes.journeys.items())
        self.capacity.update(changes.capacity)
        await self.sink.write(changes.states, changes.capacity_rows, before=changes.before)

    def restart(self, journeys: dict[str, list[Event]]) -> None:
        """A new worker over the same read model, its journeys table restored as `journeys`."""
        self.journeys = dict(journeys)
        self.sink = ReadModelSink(self.engine, CATALOGUE, self.metrics, self.clock)

    async def refresh(
        self, now: datetime, *, whole_history: bool = False, behind: bool = False
    ) -> DailyRefresh:
        """The refresh task's figures step at `now`; `behind` a backlog, as the task calls it
        then (a service's marked days after the latest day the batches since touched wait)."""
        touched = self.sink.take_touched()
        return await refresh_daily(
            self.engine,
            CATALOGUE,
            self.metrics,
            now,
            whole_history=whole_history,
            marked_until=touched if behind else None,
        )

    async def rows(self) -> dict[tuple[str, date], dict[str, Any]]:
        """Every stored daily row, by service and day."""
        async with self.engine.connect() as connection:
            result = await connection.execute(select(service_daily))
            return {(row.service_id, row.day): row.figures for row in result}

    async def patient_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every patient-level row (facts and queue entries), by table, in key order; the
        moment a row was written left out."""
        content = {}
        async with self.engine.connect() as connection:
            for table in PATIENT_TABLES:
                columns = [column for column in table.columns if column.name != "updated_at"]
                query = select(*columns).order_by(*table.primary_key.columns)
                content[table.name] = [tuple(row) for row in await connection.execute(query)]
        return content

    async def close(self) -> None:
        await self.engine.dispose()
