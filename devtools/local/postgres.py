"""A local PostgreSQL cluster from Debian's packages, for development and tests without Docker."""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import secrets
import shutil
import subprocess  # nosec B404 # PostgreSQL's own tools from argument lists built here, no shell
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg

from flowsight.devtools.local.debian import apt_install, can_install
from flowsight.devtools.local.locks import held
from flowsight.settings import Settings, kept_secret

PG_LIB = Path("/usr/lib/postgresql")
INSTALL_COMMAND = "sudo apt-get update && sudo apt-get install -y postgresql"
#: Tries of a forced DROP DATABASE that another role's session (autovacuum) refuses, 0.5 s apart.
DROP_ATTEMPTS = 20

# One statement that creates the role or, when it exists, resets it, so a changed password or a
# role left over from another setup still ends up as configured. Fed to psql on stdin because
# psql interpolates :'var' there but not in -c.
ROLE_SQL = r"""
SELECT format(
    CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'role_name')
         THEN 'ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L'
         ELSE 'CREATE ROLE %I WITH LOGIN CREATEDB PASSWORD %L' END,
    :'role_name', :'role_password') \gexec
"""


@dataclass(frozen=True)
class ClusterStatus:
    """One Debian cluster as pg_lsclusters reports it."""

    version: str
    cluster: str
    port: int
    running: bool
    data_directory: str
    log_file: str


def _run(cmd: list[str], *, stdin: str | None = None, timeout: float = 120) -> str:
    """Run a command, returning stdout, or raise RuntimeError carrying its stderr."""
    # cwd=/ so psql run as the postgres user does not warn that it cannot enter root's cwd.
    try:
        proc = subprocess.run(  # nosec B603 # argument lists built here, no shell
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, cwd="/", check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`{' '.join(cmd)}` did not finish within {timeout:g}s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({proc.returncode}): {detail}")
    return proc.stdout


def _quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier (asyncpg has no helper and DDL takes no parameters)."""
    return '"' + name.replace('"', '""') + '"'


async def drop_database(conn: asyncpg.Connection, name: str) -> None:
    """Drop database `name` if it exists, from a connection to another database of its server,
    ending any sessions still connected to it."""
    for attempt in range(DROP_ATTEMPTS):
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
            return
        except asyncpg.InsufficientPrivilegeError:
            # FORCE may end only our own role's sessions: an autovacuum worker busy in the
            # database (after heavy writes) refuses it. It ends soon.
            if attempt == DROP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5)


class LocalPostgres:
    """A Debian-managed PostgreSQL cluster on 127.0.0.1 with one password login role."""

    def __init__(
        self,
        port: int = 5433,
        cluster: str = "flowsight",
        user: str = "flowsight",
        # The tests' own clusters; a developer's (`up --postgres`, `postgres start`, `soak`) has
        # a password of its own (`local_password`).
        password: str = "flowsight",  # nosec B107 # a loopback-only cluster for tests
    ) -> None:
        self.port = port
        self.cluster = cluster
        self.user = user
        self.password = password

    # --- installation -------------------------------------------------------------------------

    @staticmethod
    def installed_versions() -> list[str]:
        """Server versions with binaries under /usr/lib/postgresql, newest first."""
        if not PG_LIB.is_dir():
            return []
        found = [p.name for p in PG_LIB.iterdir() if (p / "bin" / "postgres").is_file()]
        return sorted(
            found, key=lambda v: [int(x) for x in v.split(".") if x.isdigit()], reverse=True
        )

    def ensure_installed(self) -> None:
        """Install Debian's postgresql package if missing (root only), else say how to."""
        if shutil.which("pg_createcluster") and self.installed_versions():
            return
        if not can_install():
            raise RuntimeError(f"PostgreSQL server is not installed; run: {INSTALL_COMMAND}")
        apt_install("postgresql")
        if not (shutil.which("pg_createcluster") and self.installed_versions()):
            raise RuntimeError("apt-get installed postgresql but no server binaries were found")

    # --- lifecycle ----------------------------------------------------------------------------

    def status(self) -> ClusterStatus | None:
        """This cluster's state, or None if it has not been created (or nothing is installed)."""
        if not shutil.which("pg_lsclusters"):
            return None
        for line in _run(["pg_lsclusters", "--no-header"]).splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[1] == self.cluster:
                log_file = parts[6] if len(parts) > 6 else ""
                running = parts[3].startswith("online")
                return ClusterStatus(parts[0], parts[1], int(parts[2]), running, parts[5], log_file)
        return None

    def start(self, timeout: float = 60) -> bool:
        """Create and start the cluster and its role; True if this call started it."""
        deadline = time.monotonic() + timeout
        self.ensure_installed()
        # Debian clusters live in /etc and /var/lib/postgresql, writable only by these two.
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
            raise RuntimeError("run as root (or the postgres user) to manage a Debian cluster")
        current = self.status()
        if current is None:
            current = self._create()
        if current.port != self.port:
            raise RuntimeError(
                f"cluster {current.version}/{self.cluster} exists on port {current.port}, not "
                f"{self.port}; use that port or `pg_dropcluster --stop {current.version} "
                f"{self.cluster}`"
            )
        started = not current.running
        if started:
            # pg_ctl's error already quotes the server log, so no need to read the log file.
            _run(["pg_ctlcluster", current.version, self.cluster, "start"], timeout=timeout)
        self._wait_ready(deadline)
        self._ensure_role()
        return started

    def stop(self) -> bool:
        """Stop the cluster; True if it was running."""
        current = self.status()
        if current is None or not current.running:
            return False
        _run(["pg_ctlcluster", current.version, self.cluster, "stop", "-m", "fast"])
        return True

    @contextmanager
    def shared(self, timeout: float = 60) -> Iterator[None]:
        """Use the cluster alongside other processes (parallel test workers, several sessions).

        Under one file lock: the first user starts the cluster if it is down, and the last user
        stops it only if one of them started it, so a cluster that was already running is left
        running and no process stops it under another. A user that died is forgotten.
        """
        users = Path(tempfile.gettempdir(), f"flowsight-postgres-{self.cluster}.users")
        started_marker = users / "started"
        me = users / f"{os.getpid()}-{secrets.token_hex(4)}"
        with self._lease_lock():
            users.mkdir(mode=0o700, exist_ok=True)
            if self.start(timeout=timeout):
                started_marker.touch()
            me.touch()
        try:
            yield
        finally:
            with self._lease_lock():
                me.unlink(missing_ok=True)
                if not _live_users(users) and started_marker.exists():
                    self.stop()
                    started_marker.unlink()

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (asyncpg driver) for one database in this cluster."""
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql+asyncpg://{credentials}@127.0.0.1:{self.port}/{quote(database)}"

    async def create_database(self, name: str, exist_ok: bool = False) -> None:
        """Create a database owned by the role (an existing one is fine if exist_ok)."""
        conn = await self._connect()
        try:
            await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
        except asyncpg.DuplicateDatabaseError:
            # CREATE DATABASE has no IF NOT EXISTS; catching the error is also race-free.
            if not exist_ok:
                raise
        finally:
            await conn.close()

    async def drop_database(self, name: str) -> None:
        """Drop a database if it exists, ending any sessions still connected to it."""
        conn = await self._connect()
        try:
            await drop_database(conn, name)
        finally:
            await conn.close()

    # --- internals ----------------------------------------------------------------------------

    def _lease_lock(self) -> AbstractContextManager[None]:
        return held(f"flowsight-postgres-{self.cluster}.lock")

    def _create(self) -> ClusterStatus:
        version = self.installed_versions()[0]
        _run(
            [
                "pg_createcluster", version, self.cluster, "-p", str(self.port),
                # manual: a throwaway development cluster should not start with the machine.
                "--start-conf", "manual",
            ]
        )  # fmt: skip
        # TCP on IPv4 loopback only. Not via `pg_createcluster -o`: it writes 127.0.0.1 unquoted
        # (it looks like a number to it), which the server then rejects as a syntax error.
        conf = Path("/etc/postgresql", version, self.cluster, "conf.d", "flowsight.conf")
        conf.write_text("listen_addresses = '127.0.0.1'\n")
        conf.chmod(0o644)
        created = self.status()
        if created is None:
            raise RuntimeError(f"pg_createcluster did not create {version}/{self.cluster}")
        return created

    def _wait_ready(self, deadline: float) -> None:
        # pg_ctlcluster waits for the postmaster, but a cluster started elsewhere may still be
        # recovering, so ask the server itself over TCP, the way clients will connect.
        probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(probe, check=False).returncode != 0:  # nosec B603 # pg_isready, no shell
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on 127.0.0.1:{self.port} did not become ready")
            time.sleep(0.2)

    def _ensure_role(self) -> None:
        # Peer authentication over the Unix socket: only the postgres OS user is a superuser.
        psql = ["psql", "-p", str(self.port), "-d", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        psql += ["-v", f"role_name={self.user}"]
        if os.geteuid() == 0:
            psql = ["runuser", "-u", "postgres", "--", *psql]
        # The password on stdin, not the command line, which any user of the host can list.
        _run(psql, stdin=f"\\set role_password {_psql_quoted(self.password)}\n{ROLE_SQL}")

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            database="postgres",
        )


def _psql_quoted(value: str) -> str:
    """`value` as one single-quoted argument of a psql meta-command (`\\set`)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def local_password(settings: Settings, cluster: str = "flowsight") -> str:
    """The password of the local cluster's login role: made at random by the first start, kept
    in the cache folder (mode 0600), never one every reader of the code knows."""
    return kept_secret(settings.cache_dir.expanduser() / f"postgres-{cluster}.password")


def _live_users(users: Path) -> list[int]:
    """The pids registered in `users` (`<pid>-<token>`) still alive; dead ones' files removed."""
    alive = []
    for entry in users.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            entry.unlink(missing_ok=True)
            continue
        except PermissionError:
            pass  # alive, another user's process
        alive.append(int(pid))
    return alive


def main(argv: list[str] | None = None) -> int:
    """`python -m flowsight.devtools.local.postgres start|stop|status`."""
    parser = argparse.ArgumentParser(
        prog="python -m flowsight.devtools.local.postgres", description=__doc__
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=5433)
    parser.add_argument("--cluster", default="flowsight")
    parser.add_argument("--user", default="flowsight")
    parser.add_argument("--password", default="flowsight")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    pg = LocalPostgres(args.port, args.cluster, args.user, args.password)
    try:
        if args.command == "start":
            started = pg.start(timeout=args.timeout)
            print(f"{'started' if started else 'already running'}: {pg.url('DATABASE')}")
        elif args.command == "stop":
            print("stopped" if pg.stop() else "not running")
        else:
            current = pg.status()
            if current is None:
                print(f"cluster {args.cluster}: not created")
                return 3
            state = "running" if current.running else "stopped"
            print(f"cluster {current.version}/{current.cluster} on port {current.port}: {state}")
            # LSB status codes: 0 running, 3 not running.
            return 0 if current.running else 3
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
