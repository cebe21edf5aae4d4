"""Engines for the read model: an embedded SQLite file by default, PostgreSQL via asyncpg."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flowsight.settings import private_directory


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`, with SQLite set up for one writer and concurrent readers.

    Its errors never quote a statement's parameters (`hide_parameters`): they hold pseudonyms
    and a referral's free-text next step, and a locked or unreachable database put them in the
    worker's log lines, which a log shipper copies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        _owner_only(Path(parsed.database))
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the API read while the worker writes; the worker is the only writer.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def describe(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _owner_only(path: Path) -> None:
    """Make the SQLite file `path` (if new, and its folder) for its owner alone: it holds free
    text and the audit log, and SQLite makes it readable by anyone on the host under the usual
    umask. An empty file is an empty database; SQLite gives its -wal and -shm the file's mode."""
    private_directory(path.parent)
    with contextlib.suppress(FileExistsError):  # made already, or by a process starting too
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
