"""`flowsight up`: the whole product on one machine, and nothing left running after Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess  # nosec B404 # python -m flowsight from argument lists, no shell
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape

from flowsight.adapters.kafka.admin import ensure_topics, product_topics
from flowsight.adapters.readmodel.database import describe
from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively
from flowsight.devtools.local.kafka import LocalKafka
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import LOCAL_PSEUDONYM_KEY_FILE, Settings

STOP_GRACE_SECONDS = 15
#: A part that exits once everything is running is started again, as a service manager would (a
#: worker picks up where its group committed; the API and the simulator keep no state), up to
#: this many times within RESTART_WINDOW_SECONDS; one more exit stops everything.
RESTARTS = 3
RESTART_WINDOW_SECONDS = 600.0
#: What stops the stack: Ctrl-C at its terminal, or a service manager's SIGTERM.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Stack:
    """Starts each part in order, watches them, and stops them in reverse order."""

    settings: Settings
    console: Console
    catalogue: Catalogue
    use_postgres: bool = False
    simulate: bool = True
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: The environment the parts were started with, to start one again in.
    env: dict[str, str] = field(default_factory=dict)
    #: When each part was started again (monotonic seconds).
    restarts: dict[str, list[float]] = field(default_factory=dict)
    started_kafka: bool = False
    started_postgres: bool = False

    def run(self) -> None:
        # Explicit handlers: a shell that starts `up` in the background makes it ignore SIGINT,
        # and a service manager stops it with SIGTERM.
        previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
        try:
            self._start()
            self._watch()
        except KeyboardInterrupt:
            self.console.print("\nstopping…")
        finally:
            # A second Ctrl-C or SIGTERM while stopping must not abandon what is left to stop.
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            try:
                self._stop()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def _start(self) -> None:
        settings = self.settings
        broker = LocalKafka(settings)
        with self.console.status(
            f"fetching Apache Kafka {settings.kafka_version} (first run only)…"
        ):
            broker.ensure_downloaded()
        status = broker.status()
        # Ours to stop from here on, even when a signal interrupts the start half-way.
        self.started_kafka = not (status.running or status.answering)
        with self.console.status(f"starting Kafka on {settings.kafka_bootstrap}…"):
            self.started_kafka = broker.start()
        self.console.print(
            f"kafka      {settings.kafka_bootstrap} ({'started' if self.started_kafka else 'already running'})",
            soft_wrap=True,
        )
        env = self.env = dict(os.environ)
        if self.use_postgres:
            env["FLOWSIGHT_DATABASE_URL"] = self._start_postgres()
            # A consumer group of its own: the SQLite runs' group had committed the topics
            # this database never saw, and the worker took what the simulator replayed for
            # duplicates; the city stayed empty while `/readyz` said ready. This group reads the
            # topics from their start into PostgreSQL (and back on SQLite, the first again).
            env["FLOWSIGHT_APP_ID"] = postgres_app_id(settings.app_id)
            settings = self.settings = settings.model_copy(
                update={
                    "database_url": env["FLOWSIGHT_DATABASE_URL"],
                    "app_id": env["FLOWSIGHT_APP_ID"],
                }
            )
        asyncio.run(ensure_topics(settings, product_topics(settings, self.catalogue)))
        upgrade_exclusively(settings.resolved_database_url)
        self.console.print(f"database   {describe(settings.resolved_database_url)}", soft_wrap=True)
        self._spawn("worker", env)
        self._spawn("api", env)
        self._wait_for_api()
        if self.simulate:
            self._spawn("simulate", env)
        base = f"http://{settings.api_host}:{settings.api_port}"
        self.console.print(
            "\n[bold]flowsight is running[/bold]\n"
            f"  dashboard       {base}/\n"
            f"  pressure        {base}/v1/pressure\n"
            f"  API docs        {base}/docs\n"
            f"  API metrics     {base}/metrics\n"
            f"  worker metrics  http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics\n"
            f"  logs            {settings.data_dir / 'logs'}\n"
            "Press Ctrl-C to stop everything.\n",
            soft_wrap=True,
        )
        if settings.is_local:
            self.console.print(local_mode_notice(settings), soft_wrap=True)

    def _start_postgres(self) -> str:
        from flowsight.devtools.local.postgres import LocalPostgres, local_password

        server = LocalPostgres(password=local_password(self.settings))
        with self.console.status("starting PostgreSQL…"):
            server.ensure_installed()
            current = server.status()
            self.started_postgres = current is None or not current.running
            self.started_postgres = server.start()
            asyncio.run(server.create_database("flowsight", exist_ok=True))
        return server.url("flowsight")

    def _spawn(self, command: str, env: dict[str, str]) -> None:
        # Own process groups: Ctrl-C reaches only `up`, which then stops each part in order.
        log = self._log_path(command)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            self.children[command] = subprocess.Popen(  # nosec B603 # python -m flowsight
                [sys.executable, "-m", "flowsight", command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.console.print(f"{command:<10} started, logging to {log}", soft_wrap=True)

    def _log_path(self, command: str) -> Path:
        return self.settings.data_dir / "logs" / f"{command}.log"

    def _wait_for_api(self, timeout: float = 60) -> None:
        url = f"http://{self.settings.api_host}:{self.settings.api_port}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the API did not become ready at {url} within {timeout:.0f}s")

    def _exited(self) -> list[tuple[str, int]]:
        """The parts that have exited, with their status."""
        codes = ((name, child.poll()) for name, child in self.children.items())
        return [(name, code) for name, code in codes if code is not None]

    def _ended(self, name: str, code: int) -> str:
        log = self._log_path(name)
        return f"`flowsight {name}` exited with status {code}; the end of its log ({log}):\n{_tail(log)}"

    def _check_children(self) -> None:
        """While starting: a part that exits stops everything (a port taken, a setting wrong)."""
        for name, code in self._exited():
            raise RuntimeError(self._ended(name, code))

    def _watch(self) -> None:
        while True:
            self._tend()
            time.sleep(1)

    def _tend(self) -> None:
        """Start again each part that has exited, unless it has been started again RESTARTS
        times within RESTART_WINDOW_SECONDS: then stop everything, saying why."""
        now = time.monotonic()
        for name, code in self._exited():
            recent = [t for t in self.restarts.get(name, []) if now - t < RESTART_WINDOW_SECONDS]
            if len(recent) >= RESTARTS:
                raise RuntimeError(
                    f"{self._ended(name, code)}\nIt had been started again {len(recent)} times "
                    f"in {RESTART_WINDOW_SECONDS / 60:.0f} minutes; stopping everything."
                )
            self.console.print(
                f"[yellow]{escape(self._ended(name, code))}[/yellow]\n"
                f"starting {name} again ({len(recent) + 1} of {RESTARTS} within "
                f"{RESTART_WINDOW_SECONDS / 60:.0f} minutes)",
                soft_wrap=True,
            )
            self.restarts[name] = [*recent, now]
            self._spawn(name, self.env)

    def _stop(self) -> None:
        for name in reversed(list(self.children)):
            child = self.children[name]
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self.console.print(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
            self.console.print(f"stopped {name}")
        if self.started_kafka:
            LocalKafka(self.settings).stop()
            self.console.print("stopped kafka")
        if self.started_postgres:
            from flowsight.devtools.local.postgres import LocalPostgres

            LocalPostgres().stop()
            self.console.print("stopped postgresql")


def local_mode_notice(settings: Settings) -> str:
    """What `up` says about local mode: open to whoever reaches it, not for real patient data."""
    open_api = not settings.api_keys and not settings.oidc_issuer
    return (
        "[bold red]LOCAL MODE[/bold red] (FLOWSIGHT_ENVIRONMENT=local): a trial on this machine, "
        "not for real patient data.\n"
        + (
            f"  The API needs no credentials: anyone who can reach {settings.api_host} reads "
            "patient-level lists.\n"
            if open_api
            else ""
        )
        + (
            "  Pseudonyms use a key generated for this machine: "
            f"{settings.data_dir / LOCAL_PSEUDONYM_KEY_FILE}\n"
            if settings.pseudonym_key is None
            else ""
        )
        + "  Elsewhere set FLOWSIGHT_ENVIRONMENT=production with API keys and a pseudonym key.\n"
    )


def _interrupt(_signum: int, _frame: object) -> None:
    # SIGTERM (from a service manager, say) stops the stack exactly as Ctrl-C does.
    raise KeyboardInterrupt


def postgres_app_id(app_id: str) -> str:
    """The app id (consumer group, tables) of `flowsight up --postgres` beside `app_id`'s."""
    return app_id if app_id.endswith("-postgres") else f"{app_id}-postgres"


def _tail(log: Path, lines: int = 12) -> str:
    """The last `lines` of a child's log, to say why it ended (its reason is not on screen)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty)"
