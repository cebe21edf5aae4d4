"""A real, Docker-free, single-node Apache Kafka (KRaft) broker, run from Maven Central jars."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import contextvars
import fcntl
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess  # nosec B404 # java and mvn from argument lists built here, no shell
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flowsight.devtools.local.jvm import ClassArchive
from flowsight.settings import LOCAL, REPO_ROOT, Settings, load_settings

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J_CONFIG = REPO_ROOT / "deploy" / "kafka" / "log4j.properties"
_T = TypeVar("_T")
# Set while probing: a booting broker refuses connections, which aiokafka logs as errors each time.
_PROBING: contextvars.ContextVar[bool] = contextvars.ContextVar("kafka_probing", default=False)


@dataclass(frozen=True)
class KafkaStatus:
    """What `LocalKafka.status()` reports."""

    running: bool
    answering: bool
    pid: int | None
    bootstrap: str
    version: str
    data_dir: Path
    log_file: Path


async def broker_answers(bootstrap: str) -> bool:
    """Whether a Kafka broker at `bootstrap` answers a metadata request and lists itself."""
    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").addFilter(_not_probing)  # added once: addFilter deduplicates
    token = _PROBING.set(True)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), timeout=5)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=5)
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
        _PROBING.reset(token)


async def wait_until_ready(
    bootstrap: str,
    timeout: float,  # noqa: ASYNC109 - a deadline for a polling loop, not for one await
    *,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Wait until the broker answers: TimeoutError after `timeout`, RuntimeError if not alive()."""
    deadline = time.monotonic() + timeout
    while not await broker_answers(bootstrap):
        if alive is not None and not alive():
            raise RuntimeError(f"the Kafka process exited before {bootstrap} answered")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Kafka broker answered on {bootstrap} within {timeout:.0f}s")
        await asyncio.sleep(0.3)


@dataclass(frozen=True)
class SecureListener:
    """A SASL_SSL listener beside the plain one, as a shared cluster would offer: TLS with the
    given PEM certificate chain and unencrypted PKCS#8 key, SCRAM-SHA-512 users and passwords."""

    port: int
    certificate: Path
    private_key: Path
    users: Mapping[str, str] = field(default_factory=dict)

    def properties(self, host: str, keystore: Path) -> dict[str, str]:
        """The broker properties this listener adds (keystore: key and chain in one PEM file)."""
        prefix = "listener.name.sasl_ssl"
        return {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            f"{prefix}.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            f"{prefix}.ssl.keystore.type": "PEM",
            f"{prefix}.ssl.keystore.location": str(keystore),
        }

    def scram_arguments(self) -> list[str]:
        """`kafka-storage format` arguments that create the users with the cluster."""
        return [
            argument
            for name, password in self.users.items()
            for argument in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]


class LocalKafka:
    """One local KRaft broker+controller on the settings' ports, keeping its state in `data_dir`;
    with `secure`, a SASL_SSL listener too (the plain one stays for the broker's own probes)."""

    def __init__(
        self,
        settings: Settings,
        *,
        data_dir: Path | None = None,
        secure: SecureListener | None = None,
    ) -> None:
        self.settings = settings
        self.secure = secure
        self.version = settings.kafka_version
        self.bootstrap, self.host = settings.kafka_bootstrap, settings.kafka_host
        self.data_dir = (data_dir or settings.data_dir / "kafka").resolve()
        self.install_dir = settings.cache_dir.expanduser() / f"kafka-{self.version}"
        self.libs_dir = self.install_dir / "libs"
        self.config_file = self.data_dir / "server.properties"
        self.log_dirs = self.data_dir / "data"
        self.logs_dir = self.data_dir / "logs"
        self.log_file = self.logs_dir / "server.log"
        self.out_file = self.logs_dir / "kafka.out"
        self.pid_file = self.data_dir / "kafka.pid"
        self.classes = ClassArchive(self.install_dir, self.data_dir / "kafka.jsa-part")
        self._proc: subprocess.Popen[bytes] | None = None

    def ensure_downloaded(self, progress: Callable[[str], None] | None = None) -> Path:
        """Fetch the broker's jars into the cache unless a complete copy is there; return it."""
        marker = self.install_dir / ".complete"
        if marker.exists():
            return self.libs_dir
        _require_tools("java", "mvn")
        self.install_dir.mkdir(parents=True, exist_ok=True)
        # Two processes (a developer's broker and a test run) may both find the cache cold.
        with open(self.install_dir.parent / f"{self.install_dir.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if marker.exists():
                return self.libs_dir
            if progress:
                progress(f"Downloading Apache Kafka {self.version} into {self.libs_dir} (once)")
            # Maven would keep a truncated jar from an interrupted copy, since it looks newer.
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            cmd = ["mvn", "-B", "-q", "-Dstyle.color=never", "-f", str(POM)]
            cmd += ["dependency:copy-dependencies", "-DincludeScope=runtime"]
            cmd += [f"-DoutputDirectory={self.libs_dir}", f"-Dkafka.version={self.version}"]
            # A fixed Maven command line, no shell; the version is our own setting.
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # nosec B603
            if done.returncode != 0 or not any(self.libs_dir.glob(f"kafka_*-{self.version}.jar")):
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
                raise RuntimeError(f"Downloading Kafka {self.version} with Maven failed:\n{tail}")
            marker.write_text(f"{self.version}\n")
        if progress:
            progress(f"Kafka {self.version} cached in {self.libs_dir}")
        return self.libs_dir

    def start(self, timeout: float = 120) -> bool:
        """Start the broker unless one answers already (then False); wait until it answers."""
        if self._pid() is not None or _run(broker_answers(self.bootstrap)):
            # Ours may still be booting (another start() call): wait for it, never start a rival.
            self._wait_ready(timeout, None)
            return False
        ports, host = (self.settings.kafka_port, self.settings.kafka_controller_port), self.host
        if busy := [str(port) for port in ports if _listening(host, port)]:
            raise RuntimeError(f"{host}:{'/'.join(busy)} is taken by something that is not Kafka")
        self.ensure_downloaded()
        _require_tools("java")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.log_dirs.mkdir(mode=0o700, parents=True, exist_ok=True)  # raw ingest: owner only
        self.config_file.write_text(self._server_properties())
        if not (self.log_dirs / "meta.properties").exists():
            self._format()
        cmd = [*self._java("kafka.Kafka", *self.classes.options()), str(self.config_file)]
        with open(self.out_file, "ab") as out:
            # Own session: Ctrl-C in the shell that started it must not take the broker down.
            self._proc = subprocess.Popen(  # nosec B603 # our java command line, no shell
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.data_dir, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{self._proc.pid}\n")
        self._wait_ready(timeout, self._proc)
        return True

    def stop(self, timeout: float = 30) -> bool:
        """Stop the broker this data dir started (SIGTERM, then SIGKILL); False if none ran."""
        pid = self._pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)  # the session leader's group: java and anything it spawned
            deadline = time.monotonic() + wait
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self._alive(pid):
                self.classes.keep(exited_cleanly=sig == signal.SIGTERM)
                break
        self._proc = None
        # An exited process has closed its sockets, so the ports are free once it is gone.
        return True

    def status(self) -> KafkaStatus:
        """Whether this data dir's broker runs, and whether anything answers on the bootstrap."""
        pid, up = self._pid(), _run(broker_answers(self.bootstrap))
        return KafkaStatus(
            pid is not None, up, pid, self.bootstrap, self.version, self.data_dir, self.log_file
        )

    def _wait_ready(self, timeout: float, proc: subprocess.Popen[bytes] | None) -> None:
        alive = None if proc is None else (lambda: proc.poll() is None)
        try:
            _run(wait_until_ready(self.bootstrap, timeout, alive=alive))
        except (TimeoutError, RuntimeError) as exc:
            if proc is not None:
                self.stop()  # half-started brokers would hold the ports and the data dir
            raise RuntimeError(f"Kafka on {self.bootstrap} failed: {exc}\n{self._tail()}") from None

    def _server_properties(self) -> str:
        host, port, cport = self.host, self.settings.kafka_port, self.settings.kafka_controller_port
        listeners, advertised = f"PLAINTEXT://{host}:{port}", f"PLAINTEXT://{host}:{port}"
        protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        if self.secure is not None:
            listeners += f",SASL_SSL://{host}:{self.secure.port}"
            advertised += f",SASL_SSL://{host}:{self.secure.port}"
            protocols += ",SASL_SSL:SASL_SSL"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{cport}",
            "listeners": f"{listeners},CONTROLLER://{host}:{cport}",
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": protocols,
            "log.dirs": str(self.log_dirs),
            # One node: internal topics cannot be replicated further than that.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            # 50 offset partitions suit a cluster; one local node creates and loads 5 faster.
            "offsets.topic.num.partitions": "5",
            "num.partitions": "1",
            # Consumer groups join at once instead of waiting 3s for more members (tests).
            "group.initial.rebalance.delay.ms": "0",
            # Friendly for local work: the tools and faust may create topics on first use.
            "auto.create.topics.enable": "true",
        }
        if self.secure is not None:
            props |= self.secure.properties(host, self._keystore(self.secure))
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _keystore(self, secure: SecureListener) -> Path:
        """The secure listener's key and certificate chain in one PEM file, readable by us only."""
        keystore = self.data_dir / "keystore.pem"
        keystore.touch(mode=0o600)
        keystore.write_bytes(secure.private_key.read_bytes() + secure.certificate.read_bytes())
        return keystore

    def _format(self) -> None:
        # Kafka's cluster ids are url-safe base64 UUIDs; making one here saves a JVM start.
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        sharing = self.classes.mapped()  # the same jars: the broker's archive holds its classes
        cmd = [*self._java("kafka.tools.StorageTool", *sharing), "format", "-t", cluster_id]
        if self.secure is not None:
            cmd += self.secure.scram_arguments()
        cmd += ["-c", str(self.config_file)]
        done = subprocess.run(cmd, capture_output=True, text=True)  # nosec B603 # java, no shell
        if done.returncode != 0:
            raise RuntimeError(f"Formatting {self.log_dirs} failed:\n{done.stdout}{done.stderr}")

    def _java(self, main_class: str, *options: str) -> list[str]:
        heap, logs = f"-Xmx{self.settings.kafka_heap}", f"-Dkafka.logs.dir={self.logs_dir}"
        log4j = f"-Dlog4j.configuration=file:{LOG4J_CONFIG}"
        tuning = shlex.split(self.settings.kafka_jvm_options)
        return [
            "java",
            heap,
            *tuning,
            logs,
            log4j,
            *options,
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
        ]

    def _pid(self) -> int | None:
        """The pid in the pid file if that process is alive and is this data dir's broker."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        # A pid can be reused after a reboot; never signal a process that is not our broker.
        ours = b"kafka.Kafka\0" in cmdline and str(self.config_file).encode() in cmdline
        return pid if ours and self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            # poll() reaps our own child, so it does not linger as a zombie.
            return self._proc.poll() is None
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")  # a zombie no longer holds its ports

    def _tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.out_file, self.log_file):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()
                # A failed broker logs its cause first, then pages of shutdown chatter: show both.
                cause = [x for x in text if " ERROR " in x[:40] or x.startswith("Caused by:")][:8]
                shown = [*cause, "...", *text[-lines:]] if cause else text[-lines:]
                if shown:
                    parts.append(f"--- {path} ---\n" + "\n".join(shown))
        return "\n".join(parts) or f"(no broker log in {self.logs_dir})"


def _require_tools(*names: str) -> None:
    if missing := [name for name in names if shutil.which(name) is None]:
        raise RuntimeError(
            f"{' and '.join(missing)} not found on PATH: the local Kafka needs Java 17 and Maven "
            "(apt-get install -y openjdk-17-jre-headless maven)"
        )


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _not_probing(record: logging.LogRecord) -> bool:
    return not _PROBING.get()


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    # A private loop on a worker thread, so callers inside a running loop (async CLIs) work too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def main(argv: list[str] | None = None) -> int:
    """`python -m flowsight.devtools.local.kafka start|stop|status` with the FLOWSIGHT_* settings."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("start", "stop", "status"):
        print("usage: python -m flowsight.devtools.local.kafka start|stop|status", file=sys.stderr)
        return 2
    # A broker on this machine is a local tool: it needs no API keys or pseudonym key.
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", LOCAL)
    kafka = LocalKafka(load_settings())
    try:
        if args[0] == "start":
            kafka.ensure_downloaded(progress=print)
            started = kafka.start()
            print(f"Kafka {'started' if started else 'already running'} on {kafka.bootstrap}")
        elif args[0] == "stop":
            print("Kafka stopped" if kafka.stop() else "no Kafka from this data dir was running")
        else:
            for key, value in asdict(kafka.status()).items():
                print(f"{key:10} {value}")
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
