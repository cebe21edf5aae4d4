"""The delivery task: recorded alerts sent from the outbox to every configured route."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.notify.delivery import Deliverer
from flowsight.adapters.notify.routes import Route
from flowsight.streams.metrics import WorkerMetrics


def alert_delivery(
    engine: AsyncEngine, routes: Mapping[str, Route], metrics: WorkerMetrics
) -> Callable[[], Awaitable[None]]:
    """The worker's task sending due alerts from the outbox to `routes`, by the outbox's name."""

    async def deliver() -> None:
        """Send recorded alerts from the outbox to every configured route."""
        deliverer = Deliverer(engine, routes, metrics.registry)
        stop = asyncio.Event()
        try:
            await deliverer.run(stop)
        finally:
            await deliverer.aclose()

    return deliver
