"""The API over a read model a test has filled: settings with keys and no broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from flowsight.context import build_api
from flowsight.services.journey import Event
from flowsight.settings import Settings
from tests.adapters.readmodel.model import ReadModel


def api_settings(database_url: str, data_dir: Path, api_keys: str) -> Settings:
    """Settings for an API that reads `database_url`, accepts `api_keys` and has no Kafka."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        pseudonym_key="0123456789abcdef" * 2,
        database_url=database_url,
        data_dir=data_dir,
        api_keys=api_keys,
        kafka_bootstrap="127.0.0.1:1",
    )


def filled(data_dir: Path, events: list[Event]) -> str:
    """The URL of a read model in `data_dir` that the worker's fold filled with `events`."""

    async def fill() -> str:
        model = await ReadModel.open(data_dir / "read-model.db")
        await model.fold(events)
        await model.close()
        return model.url

    return asyncio.run(fill())


def bearer(key: str) -> dict[str, str]:
    """The headers of a caller with API key `key`."""
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def api_over(data_dir: Path, events: list[Event], *key_entries: str) -> Iterator[TestClient]:
    """A running API over a read model filled with `events`, accepting the API keys
    `key_entries` (as `new_api_key` gives them)."""
    url = filled(data_dir, events)
    with TestClient(build_api(api_settings(url, data_dir, ",".join(key_entries)))) as client:
        yield client
