"""A returning `/v1/stream` client is caught up with a Kafka reader of its own for up to 20 s,
holding every change since its position: a caller repeating `Last-Event-ID: p=0,0,0;a=0,0,0`
must not open as many readers, each holding the topics' history, as it sends requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowsight.api import resume
from flowsight.api.live import Changes, Position
from flowsight.api.places import Places
from flowsight.settings import Settings

SINCE: Position = {("pressure", 0): 0, ("alerts", 0): 0}


async def test_clients_caught_up_at_once_are_bounded_the_rest_start_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reading = 0
    release = asyncio.Event()

    async def held_read(*_args: Any) -> tuple[list[Any], Changes]:
        nonlocal reading
        reading += 1
        await release.wait()
        return [], Changes()

    monkeypatch.setattr(resume, "_read", held_read)
    settings = Settings(_env_file=None, environment="local")  # type: ignore[call-arg]
    readers = Places(resume.MOST_CAUGHT_UP_AT_ONCE)

    clients = [
        asyncio.create_task(resume.catch_up(settings, SINCE, SINCE, 0, readers))
        for _ in range(resume.MOST_CAUGHT_UP_AT_ONCE + 3)
    ]
    await asyncio.sleep(0.05)
    assert reading == resume.MOST_CAUGHT_UP_AT_ONCE
    refused = [task for task in clients if task.done()]
    assert len(refused) == 3
    for task in refused:
        with pytest.raises(resume.Unresumable, match="caught up"):
            task.result()

    release.set()
    await asyncio.gather(*(task for task in clients if task not in refused))
    await resume.catch_up(settings, SINCE, SINCE, 0, readers)  # the places are free again
    assert reading == resume.MOST_CAUGHT_UP_AT_ONCE + 1
