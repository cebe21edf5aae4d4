"""What the audit log holds, read from the read model."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.tables import audit_log


def audit_lines(database: str) -> list[tuple[str, str, object]]:
    async def read() -> list[tuple[str, str, object]]:
        engine = create_engine(database)
        async with engine.connect() as connection:
            rows = await connection.execute(select(audit_log))
            found = [(row.principal, row.action, row.detail) for row in rows]
        await engine.dispose()
        return found

    return asyncio.run(read())
