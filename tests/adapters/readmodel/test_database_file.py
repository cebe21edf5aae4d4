"""The SQLite read model's folder is its owner's alone: the file holds free text (next steps,
units) and the audit log of who read which patients, and SQLite makes it, and its write-ahead
log, readable by anyone on the host under the usual umask (0644)."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from flowsight.adapters.readmodel.database import create_engine


async def test_a_new_sqlite_folder_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'flowsight.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        await engine.dispose()

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
