"""LocalPostgres against a real cluster (the tests' own, never a developer's): a database is
created, used over asyncpg and dropped, and a cluster shared by several users stays up for them."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.devtools.local.postgres import LocalPostgres

pytestmark = pytest.mark.postgres


async def _database_exists(pg: LocalPostgres, name: str) -> bool:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, database="postgres"
    )
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def test_create_use_and_drop_database(local_postgres: LocalPostgres) -> None:
    pg = local_postgres
    name = f"flowsight_test_{uuid.uuid4().hex[:12]}"
    await pg.create_database(name)
    try:
        assert await _database_exists(pg, name)
        await pg.create_database(name, exist_ok=True)
        with pytest.raises(asyncpg.DuplicateDatabaseError):
            await pg.create_database(name)
        conn = await asyncpg.connect(
            host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, database=name
        )
        await conn.execute("CREATE TABLE visits (id serial PRIMARY KEY, service text NOT NULL)")
        await conn.executemany("INSERT INTO visits (service) VALUES ($1)", [("ED",), ("AMU",)])
        rows = await conn.fetch("SELECT id, service FROM visits ORDER BY id")
        assert [(r["id"], r["service"]) for r in rows] == [(1, "ED"), (2, "AMU")]

        # The URL is what the read model is configured with, so check SQLAlchemy accepts it too.
        engine = create_async_engine(pg.url(name))
        async with engine.connect() as sa_conn:
            assert (await sa_conn.execute(text("SELECT count(*) FROM visits"))).scalar() == 2
        await engine.dispose()

        # `conn` is still open: dropping must end it (WITH (FORCE)) rather than fail.
        await pg.drop_database(name)
        await conn.close()
    finally:
        await pg.drop_database(name)
    assert not await _database_exists(pg, name)


def test_a_user_leaving_a_shared_cluster_does_not_stop_it_under_another(
    local_postgres: LocalPostgres,
) -> None:
    # This session holds the cluster (the fixture); a second user comes and goes.
    with local_postgres.shared(timeout=60):
        current = local_postgres.status()
        assert current is not None and current.running
    current = local_postgres.status()
    assert current is not None and current.running, "the cluster was stopped under its user"
