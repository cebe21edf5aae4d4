"""The benchmarks' stage: a broker, an isolated flowsight (own topics, app id, database, ports)
whose worker and API run as real subprocesses, and the simulated city's events to publish."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess  # nosec B404 # python -m flowsight from argument lists, no shell
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

if TYPE_CHECKING:
    from flowsight.devtools.local.kafka import LocalKafka

from flowsight.adapters.catalogue import load_catalogue
from flowsight.adapters.kafka.admin import ensure_topics, product_topics, quiet_aiokafka
from flowsight.adapters.kafka.lag import ConsumerLag, consumed_topics
from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.api.auth import new_api_key
from flowsight.devtools.bench.stuck import StallWatch, where_stuck
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings

#: How often a wait reads its processes' CPU time (for `StallWatch`, whose window is two
#: minutes): each reading walks /proc, ~4 ms a process; read every quarter second, that was
#: ~1.5 % of a core a process, taken from the stage being measured.
CPU_SAMPLE_SECONDS = 5.0
#: Called with how much work was done since the last call (events, requests, seconds).
Advance = Callable[[int], None]
PSEUDONYM_KEY = "benchmark-pseudonym-key-0123456789abcdef"
PUBLISH_CHUNK = 5_000
#: The simulated city at volume 1 (measured): its census, then its flow a day.
CENSUS_EVENTS = 10_600
FLOW_EVENTS_PER_DAY = 2_000


#: Where `free_port` looks: below Linux's ephemeral range (32768 to 60999), from which every
#: outgoing connection takes its local port. A stage's worker killed and restarted on its port
#: found it taken by another process's client socket in the few seconds it was down.
PORTS = range(20_000, 32_768)


def free_port() -> int:
    """A TCP port nothing listens on now, outside the ephemeral range, and handed out by no
    other call on this machine within `CLAIM_SECONDS`: a port is chosen well before its server
    binds it (a stage's API, then its MLLP listener), and two chosen meanwhile could be one."""
    for _ in range(1_000):
        port = PORTS.start + secrets.randbelow(len(PORTS))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        if _claimed(port):
            return port
    raise RuntimeError(f"no free TCP port from {PORTS.start} to {PORTS.stop - 1}")


#: How long a port `free_port` handed out stays its caller's: longer than any stage lives.
CLAIM_SECONDS = 3_600.0
_CLAIMS = Path(tempfile.gettempdir()) / "flowsight-ports"


def _claimed(port: int) -> bool:
    """Claim `port` for this caller (a file made only if absent, across processes); False when
    another caller claimed it within `CLAIM_SECONDS`."""
    _CLAIMS.mkdir(exist_ok=True)
    claim = _CLAIMS / str(port)
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        try:
            if time.time() - claim.stat().st_mtime < CLAIM_SECONDS:
                return False
            os.utime(claim)  # an old claim, long over: this caller's now
            return True
        except FileNotFoundError:
            return False


@contextmanager
def broker(bootstrap: str | None, directory: Path) -> Iterator[str]:
    """The broker at `bootstrap`, or a local one started on free ports (stopped afterwards)."""
    if bootstrap:
        from flowsight.adapters.kafka.admin import wait_for_broker

        asyncio.run(wait_for_broker(bootstrap, within=10))  # BrokerUnreachable: one sentence
        yield bootstrap
        return
    kafka = local_kafka(directory, heap="1g")
    kafka.start(timeout=180)
    try:
        yield kafka.settings.kafka_bootstrap
    finally:
        kafka.stop()


def local_kafka(directory: Path, heap: str) -> LocalKafka:
    """A single-node broker on free ports with its data in `directory` (not yet started)."""
    from flowsight.devtools.local.kafka import LocalKafka

    settings = Settings(
        _env_file=None,
        environment="local",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        kafka_heap=heap,
        # A broker as a server runs one: the JVM's own collector and compilers.
        kafka_jvm_options="",
        data_dir=directory,
    )
    return LocalKafka(settings, data_dir=directory / "kafka")


@dataclass
class Flowsight:
    """One isolated flowsight on the broker: its topics, app id, database and ports."""

    bootstrap: str
    directory: Path
    database_url: str | None = None
    partitions: int = 3
    extra: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: When the last `wait_caught_up` saw the ingest topics all committed (the validator done).
    ingest_committed: float | None = None

    def __post_init__(self) -> None:
        unique = uuid.uuid4().hex[:10]
        self.api_key, key_entry = new_api_key("bench", ["viewer"])
        self.directory.mkdir(parents=True, exist_ok=True)
        database = self.database_url or f"sqlite+aiosqlite:///{self.directory / 'read-model.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSIGHT_")}
        self.env.update(
            {
                "FLOWSIGHT_ENVIRONMENT": "local",
                "FLOWSIGHT_KAFKA_BOOTSTRAP": self.bootstrap,
                "FLOWSIGHT_TOPIC_NAMESPACE": f"b{unique}",
                "FLOWSIGHT_APP_ID": f"flowsight-bench-{unique}",
                "FLOWSIGHT_TOPIC_PARTITIONS": str(self.partitions),
                "FLOWSIGHT_DATABASE_URL": database,
                "FLOWSIGHT_DATA_DIR": str(self.directory),
                "FLOWSIGHT_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "FLOWSIGHT_API_KEYS": key_entry,
                "FLOWSIGHT_API_PORT": str(free_port()),
                "FLOWSIGHT_WORKER_METRICS_PORT": str(free_port()),
                "FLOWSIGHT_LAG_SAMPLE_SECONDS": "5",
                "FLOWSIGHT_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                **self.extra,
            }
        )
        overrides: dict[str, Any] = {
            key.removeprefix("FLOWSIGHT_").lower(): value
            for key, value in self.env.items()
            if key.startswith("FLOWSIGHT_")
        }
        self.settings = Settings(_env_file=None, **overrides)
        self.catalogue: Catalogue = load_catalogue(self.settings.catalogue_path)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def start(
        self, command: str, name: str | None = None, module: str = "flowsight", **env: str
    ) -> subprocess.Popen[bytes]:
        """`flowsight <command>` (words split on spaces, e.g. "hl7 listen --port 2575"), or
        `python -m <module> <command>`, in its own session, its output in `<name>.log`."""
        name = name or command
        with (self.directory / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # nosec B603 # our own interpreter and module, no shell
                [sys.executable, "-m", module, *command.split()],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal a process's session; SIGKILL if it has not ended after `timeout`."""
        process = self.processes.pop(name)
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        """Stop every process this stage started, newest first."""
        for name in reversed(list(self.processes)):
            self.stop(name)

    def log_tail(self, name: str, characters: int = 3000) -> str:
        """The end of a process's log, for an error message."""
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-characters:] if path.exists() else ""

    def check_alive(self) -> None:
        """RuntimeError, with its log, if a process this stage started has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"`flowsight {name}` exited ({process.returncode}):\n{self.log_tail(name)}"
                )

    async def create_topics(self) -> None:
        """Every product topic, before anything is published or started."""
        await ensure_topics(self.settings, product_topics(self.settings, self.catalogue))

    async def publish(self, events: list[dict[str, Any]], advance: Advance | None = None) -> float:
        """Publish the events to their organisations' ingest topics; return the seconds taken."""
        started = time.perf_counter()
        # New topics' partitions elect leaders for a moment; the producer retries, quietly.
        with quiet_aiokafka():
            async with EventPublisher(self.settings) as publisher:
                for start in range(0, len(events), PUBLISH_CHUNK):
                    chunk = events[start : start + PUBLISH_CHUNK]
                    await publisher.publish_by_source(chunk)
                    if advance:
                        advance(len(chunk))
        return time.perf_counter() - started

    async def wait_caught_up(
        self, records: int, within: float, advance: Advance | None = None
    ) -> float:
        """Wait until the worker's group committed every record of the ingest and events
        topics (twice in a row: the events topic fills as the ingest is read); return when."""
        lag = ConsumerLag(
            self.settings, self.settings.app_id, consumed_topics(self.settings, self.catalogue)
        )
        deadline = time.monotonic() + within
        watch = StallWatch()
        cpu, cpu_read = 0.0, -CPU_SAMPLE_SECONDS  # read on the first round
        done_before = 0
        self.ingest_committed = None
        try:
            while True:
                self.check_alive()
                try:
                    behind = await lag.measure()
                except KafkaError:  # a fresh broker makes its group coordinator on first ask
                    await asyncio.sleep(0.5)
                    continue
                now = time.perf_counter()
                ingest = sum(v for t, v in behind.items() if t != self.settings.events_topic)
                if not ingest and self.ingest_committed is None:
                    self.ingest_committed = now
                done = max(0, records - ingest)
                if advance and done > done_before:
                    advance(done - done_before)
                    done_before = done
                if not any(behind.values()):
                    again = await lag.measure()
                    if not any(again.values()):
                        return now
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the worker was still behind after {within:.0f}s: {behind}"
                        f"{await where_stuck(self.processes, self.directory)}"
                    )
                if time.monotonic() - cpu_read >= CPU_SAMPLE_SECONDS:
                    cpu, cpu_read = self.cpu_seconds(), time.monotonic()
                if stuck := watch.stuck(behind, cpu):
                    raise TimeoutError(
                        f"{stuck}{await where_stuck(self.processes, self.directory)}"
                    )
                await asyncio.sleep(0.25)
        finally:
            await lag.close()

    def cpu_seconds(self) -> float:
        """CPU seconds the stage's running processes (and their children) have used."""
        return sum(cpu_seconds(p.pid) for p in self.processes.values() if p.poll() is None)

    async def wait_api(self, within: float = 60) -> None:
        """Wait until the API answers /readyz."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                self.check_alive()
                with suppress(httpx.HTTPError):
                    if (await client.get(f"{self.api_url}/healthz", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise TimeoutError(f"the API at {self.api_url} did not answer within {within:.0f}s")


async def metric_samples(port: int, families: tuple[str, ...]) -> list[Sample]:
    """The samples of the metric `families` on the /metrics of the local process at `port`.
    Raises `httpx.HTTPError` while it does not answer."""
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text
    return [
        sample
        for family in text_string_to_metric_families(page)
        if family.name in families
        for sample in family.samples
    ]


async def histogram_totals(port: int, family: str) -> tuple[float, float]:
    """The count and sum of the histogram `family` on the /metrics of the local process at
    `port`; (0, 0) when it does not answer or has no such histogram."""
    try:
        samples = await metric_samples(port, (family,))
    except httpx.HTTPError:
        return 0.0, 0.0
    values = {sample.name: sample.value for sample in samples}
    return values.get(f"{family}_count", 0.0), values.get(f"{family}_sum", 0.0)


@contextmanager
def stage(
    bootstrap: str, directory: Path, database_url: str | None = None, **kwargs: Any
) -> Iterator[Flowsight]:
    """A `Flowsight` whose processes are stopped on the way out, whatever happens."""
    flowsight = Flowsight(bootstrap, directory, database_url, **kwargs)
    try:
        yield flowsight
    finally:
        flowsight.stop_all()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a running process and its living descendants have
    used, from /proc: the worker computes its figures in a child process of its own."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # after the command name: ppid is field 4, utime 14 and stime 15 (1-based)
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
    tree, seen = [pid], 0
    while seen < len(tree):
        tree.extend(child for child, fields in stats.items() if int(fields[1]) == tree[seen])
        seen += 1
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in tree if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_load() -> str:
    """The load averages, to print beside a measurement (others may share the machine)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
