"""The local PostgreSQL cluster a developer runs (`up --postgres`, `postgres start`, `soak`): its
login role's password is the machine's own, never one the code publishes, and never on a command
line that any user of the host can list."""

from __future__ import annotations

import asyncio
import stat
import uuid
from pathlib import Path

import asyncpg
import pytest

from flowsight.devtools.local import postgres
from flowsight.devtools.local.postgres import LocalPostgres, local_password
from flowsight.settings import Settings


def test_a_developer_s_cluster_has_a_password_of_its_own_kept_for_its_owner(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, environment="local", cache_dir=tmp_path / "cache")
    password = local_password(settings)
    kept = tmp_path / "cache" / "postgres-flowsight.password"
    assert kept.read_text(encoding="utf-8").strip() == password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(password) >= 32 and password != LocalPostgres().password
    assert local_password(settings) == password  # the next start uses the same one
    elsewhere = Settings(_env_file=None, environment="local", cache_dir=tmp_path / "other")
    assert local_password(elsewhere) != password


@pytest.mark.integration
def test_the_role_s_password_is_set_from_stdin_whatever_it_holds(
    local_postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "it's a \\ pass:word $1"
    user = f"probe_{uuid.uuid4().hex[:8]}"
    commands: list[list[str]] = []
    run = postgres._run

    def recorded(cmd: list[str], **kwargs: object) -> str:
        commands.append(cmd)
        return run(cmd, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(postgres, "_run", recorded)
    server = LocalPostgres(local_postgres.port, local_postgres.cluster, user, secret)
    server.start()
    try:
        assert commands and not any(secret in " ".join(cmd) for cmd in commands)
        assert asyncio.run(_login(server.port, user, secret)) == user
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_login(server.port, user, "flowsight"))
    finally:
        _drop_role(local_postgres, user)


async def _login(port: int, user: str, password: str) -> str:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user=user, password=password, database="postgres"
    )
    try:
        return str(await connection.fetchval("SELECT current_user"))
    finally:
        await connection.close()


def _drop_role(server: LocalPostgres, user: str) -> None:
    # Only the postgres OS user may drop a role (peer authentication over the Unix socket).
    psql = ["psql", "-p", str(server.port), "-d", "postgres", "-X", "-q", "-c"]
    postgres._run(["runuser", "-u", "postgres", "--", *psql, f'DROP ROLE "{user}"'])
