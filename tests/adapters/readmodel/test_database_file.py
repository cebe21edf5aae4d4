"""The SQLite read model's folder is its owner's alone: the file holds free text (next steps,
units) and the audit log of who read which patients, and SQLite makes it, and its write-ahead
log, readable by anyone on the host under the usual umask (0644)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively
from flowsight.settings import private_directory


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


def test_a_schema_upgrade_on_a_new_data_folder_makes_every_folder_its_owner_s_alone(
    tmp_path: Path,
) -> None:
    # `flowsight db upgrade` (and a worker starting) on a data folder that is not there yet: the
    # schema lock's folder was made first, readable by anyone, before the database made it 0700.
    data = tmp_path / "srv" / "flowsight"
    upgrade_exclusively(f"sqlite+aiosqlite:///{data / 'flowsight.db'}")
    for folder in (tmp_path / "srv", data):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    written = [path for path in data.iterdir() if path.name.startswith("flowsight.db")]
    assert any(path.name.endswith(".migrating") for path in written), written
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}, written


def test_a_folder_that_exists_keeps_its_mode_and_its_new_children_are_private(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    made = private_directory(tmp_path / "faust" / "flowsight" / "worker-1")
    assert made.is_dir()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    for folder in (made, made.parent, made.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert private_directory(made) == made  # made already: nothing to do


async def test_a_database_error_never_quotes_the_statement_s_parameters(tmp_path: Path) -> None:
    # A locked SQLite file (or PostgreSQL away) put a referral's next step and pseudonyms in the
    # worker's warning: "[parameters: ('1b18…', …, 'Ring Mrs Jane Doe (daughter) on 07700 …')]".
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'flowsight.db'}")
    next_step = "Ring Mrs Jane Doe (daughter) on 07700 900123"
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT NOT NULL UNIQUE)"))
            await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": next_step})
        with pytest.raises(IntegrityError) as failed:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": next_step})
    finally:
        await engine.dispose()
    assert "UNIQUE" in str(failed.value)  # what went wrong is still said
    assert "Jane Doe" not in str(failed.value)
