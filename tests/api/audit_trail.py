"""What the audit log holds, read from the read model."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.tables import audit_log
from flowsight.api.keys_in_force import ACTION

#: The line an API writes at its start when the keys in force changed (api/keys_in_force.py):
#: not a caller's request, left out where a test counts what requests wrote.
KEYS_LINE = audit_log.c.action != ACTION


def audit_lines(database: str) -> list[tuple[str, str, object]]:
    """The lines callers' requests wrote, in order."""

    async def read() -> list[tuple[str, str, object]]:
        engine = create_engine(database)
        async with engine.connect() as connection:
            rows = await connection.execute(select(audit_log).where(KEYS_LINE))
            found = [(row.principal, row.action, row.detail) for row in rows]
        await engine.dispose()
        return found

    return asyncio.run(read())
