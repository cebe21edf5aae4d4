"""`bench replay --postgres`: the live build and the replay each get an empty database of their
own on the server named, dropped at the end; the database the URL names is never written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.devtools.bench.replay import fresh_databases, read_models
from flowsight.devtools.local.postgres import LocalPostgres

TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"


async def scalar(url: str, query: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(query))).scalar()
    finally:
        await engine.dispose()


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


async def left_of(url: str, names: list[str]) -> object:
    """How many of the databases `names` are still on the server."""
    listed = ", ".join(f"'{name}'" for name in names)
    return await scalar(url, f"SELECT count(*) FROM pg_database WHERE datname IN ({listed})")


@pytest.fixture
async def url(local_postgres: LocalPostgres) -> AsyncIterator[str]:
    """The URL a user names: an empty database of the test server, dropped afterwards."""
    named = f"flowsight_test_{uuid.uuid4().hex[:12]}"
    await local_postgres.create_database(named)
    yield local_postgres.url(named)
    await local_postgres.drop_database(named)


async def test_each_build_gets_an_empty_database_dropped_afterwards(url: str) -> None:
    async with read_models(url) as (live, replay):
        assert live and replay and len({live, replay, url}) == 3
        for build in (live, replay):
            assert await scalar(build, TABLES) == 0
            engine = create_async_engine(build)
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE written (n int)"))
            await engine.dispose()
        names = [database_of(live), database_of(replay)]

    assert await left_of(url, names) == 0
    assert await scalar(url, TABLES) == 0  # the database named was never written


async def test_without_a_url_each_stage_keeps_its_own_sqlite_file() -> None:
    async with read_models(None) as (live, replay):
        assert (live, replay) == (None, None)


async def test_databases_made_before_a_failure_are_still_dropped(url: str) -> None:
    names: list[str] = []
    with pytest.raises(RuntimeError):
        async with fresh_databases(url, "live", "replay") as builds:
            names = [database_of(build) for build in builds]
            raise RuntimeError("the live build failed")

    assert len(names) == 2 and await left_of(url, names) == 0
