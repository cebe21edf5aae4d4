"""`bench replay --postgres`: the live build and the replay each get an empty database of their
own on the server named, dropped at the end; the database the URL names is never written."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.devtools.bench.replay import fresh_databases, read_models
from flowsight.devtools.local.postgres import LocalPostgres


async def scalar(url: str, query: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(query))).scalar()
    finally:
        await engine.dispose()


async def test_each_build_gets_an_empty_database_dropped_afterwards(
    local_postgres: LocalPostgres,
) -> None:
    named = f"flowsight_test_{uuid.uuid4().hex[:12]}"
    await local_postgres.create_database(named)
    url = local_postgres.url(named)
    try:
        async with read_models(url) as (live, replay):
            assert live and replay and len({live, replay, url}) == 3
            for build in (live, replay):
                tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                assert await scalar(build, tables) == 0
                engine = create_async_engine(build)
                async with engine.begin() as connection:
                    await connection.execute(text("CREATE TABLE written (n int)"))
                await engine.dispose()
            names = [build.rsplit("/", 1)[1].split("?")[0] for build in (live, replay)]
        left = await scalar(
            url,
            f"SELECT count(*) FROM pg_database WHERE datname IN ('{names[0]}', '{names[1]}')",
        )
        assert left == 0
        assert await scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    finally:
        await local_postgres.drop_database(named)


async def test_without_a_url_each_stage_keeps_its_own_sqlite_file() -> None:
    async with read_models(None) as (live, replay):
        assert (live, replay) == (None, None)


async def test_databases_made_before_a_failure_are_still_dropped(
    local_postgres: LocalPostgres,
) -> None:
    named = f"flowsight_test_{uuid.uuid4().hex[:12]}"
    await local_postgres.create_database(named)
    url = local_postgres.url(named)
    made: list[str] = []
    try:
        try:
            async with fresh_databases(url, "live", "replay") as builds:
                made = [build.rsplit("/", 1)[1].split("?")[0] for build in builds]
                raise RuntimeError("the live build failed")
        except RuntimeError:
            pass
        query = f"SELECT count(*) FROM pg_database WHERE datname LIKE '{made[0][:-5]}%'"
        assert await scalar(url, query) == 0
    finally:
        await local_postgres.drop_database(named)
