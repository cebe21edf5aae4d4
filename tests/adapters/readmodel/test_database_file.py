"""The SQLite read model's folder is its owner's alone: the file holds free text (next steps,
units) and the audit log of who read which patients, and SQLite makes it, and its write-ahead
log, readable by anyone on the host under the usual umask (0644)."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from flowsight.adapters.readmodel.database import create_engine


async def test_a_new_sqlite_file_and_folder_are_readable_by_their_owner_alone(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "var"
    shared.mkdir(mode=0o755)  # as `flowsight up` makes the data folder first, for its logs
    for folder in (tmp_path / "new", shared):
        engine = create_engine(f"sqlite+aiosqlite:///{folder / 'flowsight.db'}")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            await engine.dispose()

        written = [path for path in folder.iterdir() if path.name.startswith("flowsight.db")]
        assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}, written
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
