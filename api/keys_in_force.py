"""The API keys in force, written to the audit log whenever they change.

Keys are configuration (`FLOWSIGHT_API_KEYS`): issued and revoked by editing it and restarting the
API (`flowsight keys`), so no request ever changes them and nothing audited their changes. At
each start the API compares the keys it was given with the last set the log records and, when
they differ, appends one line: action `api_keys_in_force`, principal `flowsight:api`, and in
`detail` every key's name, roles and fingerprint (the first 12 hex digits of the SHA-256 of the
secret, which the configuration holds anyway: it names a key, it cannot be turned back into
one), with the names added, removed, given other roles, or given a new secret since. An auditor
can so tell who could read patient-level lists, and since when. Instances started together may
each write the same line once: it says the same thing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel import audit as audit_log
from flowsight.api.auth import ApiKey

log = logging.getLogger("flowsight.api")

ACTION = "api_keys_in_force"
PRINCIPAL = "flowsight:api"
RESOURCE = "FLOWSIGHT_API_KEYS"
#: How long the start waits for the database before writing the line in the background.
AT_START_SECONDS = 5.0
#: Between tries in the background (the schema may not be migrated yet).
RETRY_SECONDS = 5.0


def key_set(keys: Sequence[ApiKey]) -> list[dict[str, Any]]:
    """The keys as the log records them, by name."""
    return [
        {"name": key.name, "roles": sorted(key.roles), "fingerprint": key.sha256[:12]}
        for key in sorted(keys, key=lambda key: key.name)
    ]


def key_changes(before: list[dict[str, Any]] | None, now: list[dict[str, Any]]) -> dict[str, Any]:
    """What changed from the keys `before` (None: none recorded) to those `now`; empty when
    nothing did."""
    if before == now or (before is None and not now):
        return {}
    old = {key["name"]: key for key in before or []}
    new = {key["name"]: key for key in now}
    both = sorted(old.keys() & new.keys())
    return {
        "keys": now,
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "roles_changed": [name for name in both if old[name]["roles"] != new[name]["roles"]],
        "secret_changed": [
            name for name in both if old[name]["fingerprint"] != new[name]["fingerprint"]
        ],
    }


async def record_keys_in_force(engine: AsyncEngine, keys: Sequence[ApiKey]) -> bool:
    """Append the keys in force to the audit log if they differ from the last set it records;
    whether a line was written."""
    async with engine.begin() as connection:
        last = await audit_log.latest_audit(connection, ACTION)
        before = (last or {}).get("detail") or {}
        change = key_changes(before.get("keys") if last else None, key_set(keys))
        if not change:
            return False
        await audit_log.audit(
            connection,
            principal=PRINCIPAL,
            action=ACTION,
            resource=RESOURCE,
            client=None,
            at=datetime.now(UTC),
            detail=change,
        )
    log.info(
        "API keys in force recorded in the audit log",
        extra={key: change[key] for key in ("added", "removed", "roles_changed")},
    )
    return True


async def keys_recorded_at_start(
    engine: AsyncEngine, keys: Sequence[ApiKey]
) -> asyncio.Task[None] | None:
    """Record the keys in force now, or, when the database cannot take it within
    `AT_START_SECONDS` (not reachable, or its schema not migrated yet), in the background until
    it can; the background task, for the API to cancel when it stops."""
    try:
        await asyncio.wait_for(record_keys_in_force(engine, keys), AT_START_SECONDS)
        return None
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        log.warning(
            "the API keys in force are not in the audit log yet (%s); trying again every %.0f s",
            type(error).__name__,
            RETRY_SECONDS,
        )
    return asyncio.create_task(_until_recorded(engine, keys))


async def _until_recorded(engine: AsyncEngine, keys: Sequence[ApiKey]) -> None:
    while True:
        await asyncio.sleep(RETRY_SECONDS)
        try:
            await record_keys_in_force(engine, keys)
            return
        except (SQLAlchemyError, OSError):
            continue
