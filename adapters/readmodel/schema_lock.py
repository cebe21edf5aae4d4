"""Schema upgrades that several processes may start at once: one migrates, the others wait.

Workers (and `flowsight up`) upgrade the schema as they start. Two starting together on an empty
database both read "no revision" and both ran the first migration, and one failed
(`duplicate column name`). Here the upgrade runs under a lock the database's users share:

- SQLite: an exclusive `flock` on a file beside the database (SQLite is one host's file, so
  every process that can open it can take the lock);
- PostgreSQL: a session advisory lock (`pg_advisory_lock`) held on its own connection while the
  migrations run on another; released when done or when the process dies.

Whoever takes the lock second finds the schema already at head and has nothing to do.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.settings import private_directory

#: The advisory lock's key, the same for every flowsight process: "flowsigh" as eight ASCII
#: bytes, within PostgreSQL's bigint.
ADVISORY_LOCK_KEY = 0x666C6F7773696768


def upgrade_exclusively(url: str) -> None:
    """`upgrade` the database at `url` to head, one process at a time."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        with _file_lock(Path(parsed.database).with_name(Path(parsed.database).name + ".migrating")):
            upgrade(url)
    elif backend == "postgresql":
        asyncio.run(_upgrade_under_advisory_lock(url))
    else:
        upgrade(url)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    private_directory(path.parent)
    # Its owner's alone, as the database beside it is (an empty file, but in a folder that may
    # be shared, nothing of the read model's is left for others to read).
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for whoever migrates now
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def _upgrade_under_advisory_lock(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            try:
                # Alembic runs its own event loop, so in a thread of its own.
                await asyncio.to_thread(upgrade, url)
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
    finally:
        await engine.dispose()
