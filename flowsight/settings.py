"""One settings object for every flowsight process, read from FLOWSIGHT_* environment variables."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import socket
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGUE = REPO_ROOT / "deploy" / "catalogue" / "leeds.yaml"

#: The one environment that may run open (no credentials) with a key it generates itself.
LOCAL = "local"
#: Where a local run keeps the pseudonym key it generated, under the data directory.
LOCAL_PSEUDONYM_KEY_FILE = "pseudonym.key"


class Settings(BaseSettings):
    """Everything a flowsight process can be told; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWSIGHT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refusal names the setting; it must not quote every value (keys, passwords) with it.
        hide_input_in_errors=True,
    )

    # Anything but `local` (the default included) refuses to start without credentials and keys.
    environment: Literal["local", "development", "test", "production"] = "production"
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: How long a process waits at start for the broker to answer before it gives up.
    kafka_wait_seconds: float = Field(default=30.0, gt=0, le=3600)
    kafka_controller_port: int = 9093
    kafka_version: str = "3.9.2"
    kafka_heap: str = "512m"
    #: Further JVM options of the local broker. The serial collector and the quick compiler only
    #: suit a single node on a developer's machine: the same test modules' broker used about half
    #: the CPU with them (docs/benchmarks.md). Benchmarks start theirs with the JVM's defaults.
    kafka_jvm_options: str = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    topic_namespace: str = Field(
        "flowsight", pattern=r"^[A-Za-z0-9_-]+$", description="first segment of every topic name"
    )
    topic_partitions: int = Field(3, ge=1)
    topic_replication: int = Field(1, ge=1)
    app_id: str = "flowsight"
    # Kafka connection security, for every client (adapters/kafka/security.py)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr | None = None
    # How long raw (identifiable) messages stay on ingest and dead-letter topics: docs/security.md
    ingest_retention_hours: float = Field(72.0, gt=0)
    dlq_retention_days: float = Field(14.0, gt=0)

    # Local services (the `flowsight kafka` / `flowsight postgres` helpers)
    cache_dir: Path = Path.home() / ".cache" / "flowsight"
    data_dir: Path = REPO_ROOT / "var"

    # Read model
    database_url: str = ""

    # Worker
    #: This worker's name in its consumer group (Kafka static membership): restarted under the
    #: same name, it takes its partitions straight back. Empty: `<host>-<data dir>-<port>`.
    worker_id: str = Field("", pattern=r"^[A-Za-z0-9._:-]{0,200}$")
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 6067
    #: faust's table store. rocksdb:// keeps the tables in the data directory and reads only the
    #: changelogs' tail at a restart; memory:// rebuilds them from their changelogs at each start
    #: (docs/decisions.md, state store).
    state_store: str = "rocksdb://"
    #: Events folded and written together: a patient touched more than once in a batch is
    #: replayed, written and stored once, and each batch costs a few dozen statements.
    sink_batch_size: int = Field(5000, ge=1)
    sink_batch_seconds: float = Field(0.1, gt=0)
    #: Behind a backlog, a tracker batch not full spans at least this long (fewer, larger
    #: batches); caught up, batches close after sink_batch_seconds (figures sooner).
    sink_backlog_seconds: float = Field(0.5, ge=0)
    daily_refresh_seconds: float = Field(30.0, gt=0)
    lag_sample_seconds: float = Field(15.0, gt=0)
    ready_max_lag: int = Field(1000, ge=0)
    # Data lifecycle: closed journeys silent this long are purged, checked every interval
    # (services/retention.py, docs/security.md); at least the readmission window (30 days)
    patient_retention_days: int = Field(90, ge=30)
    purge_interval_seconds: float = Field(3600.0, gt=0)

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_keys: str = Field(
        "",
        description="comma-separated name:role+role:sha256-of-key entries (`flowsight keys create`)",
    )
    # OIDC bearer tokens, when an issuer is set: verified against its JWKS
    oidc_issuer: str = ""
    oidc_audience: str = "flowsight"
    oidc_jwks_url: str = ""
    oidc_roles_claim: str = "roles"
    # What one API process does at once for its callers (docs/security.md, OWASP item 4): weekly
    # reports computed (one more waits up to report_wait_seconds for a place, then is a 503 with
    # Retry-After), and live streams open in all and per caller (one more is a 429)
    reports_at_once: int = Field(2, ge=1, le=64)
    report_wait_seconds: float = Field(10.0, ge=0, le=60)
    stream_clients: int = Field(500, ge=1)
    stream_clients_per_caller: int = Field(20, ge=1)

    # HL7 listener (`flowsight hl7 listen`): the most MLLP connections one address may hold at
    # once, so one sender cannot shut the others out (docs/security.md); the option
    # --max-connections-per-address overrides it
    hl7_max_connections_per_address: int = Field(8, ge=1)

    # Escalation alerts: a JSON list of routes (webhook, teams, email, alertmanager), kept as
    # written; adapters/notify/routes.py parses and checks it when a process starts
    alert_routes: str = ""
    # Pressure: weighted-mean scores at which OPEL 2, 3 and 4 begin; hold before de-escalating;
    # each service's weight in the system level (default 1)
    opel_cutoffs: tuple[float, float, float] = (1.5, 2.5, 3.5)
    escalation_hold_minutes: float = Field(30.0, ge=0)
    system_weights: dict[str, float] = Field(default_factory=dict)

    # Domain
    catalogue_path: Path = DEFAULT_CATALOGUE
    pseudonym_key: SecretStr | None = None
    clock_skew_seconds: int = 300
    lateness_window_days: int = 7

    # Simulator
    simulator_rate: float = Field(
        500.0, gt=0, description="most events per second the simulator publishes (catch-up)"
    )
    simulator_history_days: float = Field(7.0, ge=0)
    simulator_volume: float = Field(1.0, gt=0)
    simulator_seed: int | None = None

    @field_validator(
        "pseudonym_key",
        "simulator_seed",
        "kafka_sasl_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FLOWSIGHT_PSEUDONYM_KEY=` in an .env file means "not set", not "the empty key".
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.pseudonym_key is not None:
            _check_pseudonym_key(self.pseudonym_key.get_secret_value())
        _check_kafka_security(self)
        if self.oidc_issuer and not self.oidc_audience.strip():
            # Empty, any token of the issuer whose `aud` holds "" was taken as one for this API.
            raise ValueError(
                "FLOWSIGHT_OIDC_AUDIENCE is empty: name this API as the identity provider puts "
                "it in its tokens' `aud` (default: flowsight)"
            )
        if self.is_local:
            _check_local_stays_local(self)
            return self
        unlocked = (
            f"(FLOWSIGHT_ENVIRONMENT={self.environment}; only FLOWSIGHT_ENVIRONMENT=local, "
            "for a trial on one machine, runs without it)"
        )
        if self.pseudonym_key is None:
            raise ValueError(
                "FLOWSIGHT_PSEUDONYM_KEY must be set: patient pseudonyms are keyed with it "
                f"(e.g. `openssl rand -hex 32`) {unlocked}"
            )
        if not self.has_credentials:
            raise ValueError(
                "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER must be set: create keys with "
                f"`flowsight keys create`, or name your identity provider {unlocked}"
            )
        for name, url in (("ISSUER", self.oidc_issuer), ("JWKS_URL", self.oidc_jwks_url)):
            if url and not (url.startswith("https://") and urlsplit(url).hostname):
                raise ValueError(
                    f"FLOWSIGHT_OIDC_{name} must be an https:// address: tokens are verified "
                    f"with the keys fetched from it {unlocked}"
                )
        return self

    @property
    def has_credentials(self) -> bool:
        """Whether callers are checked: API keys (not only commas) or an OIDC issuer."""
        return bool(self.api_keys.replace(",", "").strip() or self.oidc_issuer)

    @property
    def is_local(self) -> bool:
        """A trial on one machine: may run open, with a pseudonym key it generated itself."""
        return self.environment == LOCAL

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'flowsight.db'}"

    @property
    def group_instance_id(self) -> str:
        """The worker's static member name: `worker_id`, else one stable for this host, data
        directory and metrics port (so two workers on one host differ by their port)."""
        if self.worker_id:
            return self.worker_id
        place = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:8]
        return f"{socket.gethostname()}-{place}-{self.worker_metrics_port}"

    @cached_property
    def pseudonym_secret(self) -> bytes:
        """The HMAC key for pseudonyms; a local run without one generates its own, once."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        if not self.is_local:  # the validator refuses this; kept for settings built by copy
            raise ValueError("FLOWSIGHT_PSEUDONYM_KEY must be set outside local mode")
        return kept_secret(self.data_dir / LOCAL_PSEUDONYM_KEY_FILE).encode()

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap.rsplit(":", 1)[0]

    @property
    def lateness_window(self) -> timedelta:
        return timedelta(days=self.lateness_window_days)

    @property
    def clock_skew(self) -> timedelta:
        return timedelta(seconds=self.clock_skew_seconds)

    # Topic names (SPEC section 4), all under one namespace so tests and tenants never collide.
    def ingest_topic(self, organisation: str) -> str:
        return f"{self.topic_namespace}.ingest.{organisation}.v1"

    @property
    def ingest_topic_pattern(self) -> str:
        return rf"^{self.topic_namespace}\.ingest\.([A-Za-z0-9_-]+)\.v1$"

    @property
    def events_topic(self) -> str:
        return f"{self.topic_namespace}.events.v1"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_namespace}.events.dlq.v1"

    @property
    def service_state_topic(self) -> str:
        return f"{self.topic_namespace}.service-state.v1"

    @property
    def pressure_topic(self) -> str:
        return f"{self.topic_namespace}.pressure.v1"

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_namespace}.alerts.v1"


def private_directory(path: Path) -> Path:
    """`path` as a folder, made for its owner alone (0700) with every missing parent.

    The data directory holds the read model, the worker's tables (pseudonyms, episodes, dates)
    and the local pseudonym key; `mkdir(mode=0o700, parents=True)` gives the mode to the last
    folder only, and whichever process made the data directory first (the worker's table store,
    a schema lock) made it readable by anyone on the host. A folder that exists keeps its mode.
    """
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:  # made by a process starting beside this one
            pass
    return path


def kept_secret(path: Path) -> str:
    """The secret kept at `path` (mode 0600), made from 32 random bytes by the first run that
    asks: local mode's pseudonym key, the local PostgreSQL role's password.

    Written under a temporary name and linked into place, so processes starting together agree
    on one secret and none reads a half-written file.
    """
    if not path.exists():
        private_directory(path.parent)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process linked its key first; everyone uses that one
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


#: Fewest different characters a pseudonym key may have: `openssl rand -hex 32` has about 16.
PSEUDONYM_KEY_MIN_DISTINCT = 8


def is_loopback(host: str) -> bool:
    """Whether listening on `host` reaches this machine alone (`localhost`, 127.0.0.0/8, ::1)."""
    bare = host.strip("[]")
    try:
        return bare == "localhost" or ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _check_local_stays_local(settings: Settings) -> None:
    """Local mode without credentials answers every caller as a viewer of patient-level lists:
    it listens on this machine alone (a loopback address), never on the network."""
    if settings.has_credentials:
        return
    if not is_loopback(settings.api_host):
        raise ValueError(
            f"FLOWSIGHT_API_HOST={settings.api_host} would serve patient-level lists to anyone "
            "on the network: local mode without FLOWSIGHT_API_KEYS (or an OIDC issuer) listens "
            "on 127.0.0.1 only; set API keys to listen elsewhere"
        )


def _check_pseudonym_key(key: str) -> None:
    """Refuse a pseudonym key anyone could guess: short, a placeholder left as shipped (the
    example Secret's `<set out of band: ...>`), spaces, or a character repeated. Whoever holds
    the key can re-identify every patient (docs/security.md). The message never quotes it."""
    if len(key) < 32:
        raise ValueError("FLOWSIGHT_PSEUDONYM_KEY must be at least 32 characters long")
    if key.startswith("<") and key.endswith(">"):
        raise ValueError(
            "FLOWSIGHT_PSEUDONYM_KEY is still the example's placeholder: set a random one "
            "(e.g. `openssl rand -hex 32`)"
        )
    if not key.isprintable() or any(c.isspace() for c in key):
        raise ValueError("FLOWSIGHT_PSEUDONYM_KEY must not hold spaces or control characters")
    if len(set(key)) < PSEUDONYM_KEY_MIN_DISTINCT:
        raise ValueError(
            f"FLOWSIGHT_PSEUDONYM_KEY has fewer than {PSEUDONYM_KEY_MIN_DISTINCT} different "
            "characters: set a random one (e.g. `openssl rand -hex 32`)"
        )


def _check_kafka_security(settings: Settings) -> None:
    """Refuse a Kafka security setting that could only fail at the first connection."""
    protocol = settings.kafka_security_protocol
    if protocol.startswith("SASL_") and (
        not settings.kafka_sasl_username or settings.kafka_sasl_password is None
    ):
        raise ValueError(
            f"FLOWSIGHT_KAFKA_SECURITY_PROTOCOL={protocol} needs FLOWSIGHT_KAFKA_SASL_USERNAME "
            "and FLOWSIGHT_KAFKA_SASL_PASSWORD"
        )
    if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
        raise ValueError(
            "FLOWSIGHT_KAFKA_SSL_CERTFILE and FLOWSIGHT_KAFKA_SSL_KEYFILE go together "
            "(a client certificate and its private key)"
        )
    tls_files = (settings.kafka_ssl_cafile, settings.kafka_ssl_certfile)
    if not protocol.endswith("SSL") and any(f is not None for f in tls_files):
        raise ValueError(
            f"FLOWSIGHT_KAFKA_SSL_* files are set but FLOWSIGHT_KAFKA_SECURITY_PROTOCOL={protocol} "
            "does not use TLS (SSL or SASL_SSL)"
        )


def load_settings(**overrides: object) -> Settings:
    """Read the settings once, at an entry point; pass the object down from there."""
    return Settings(**overrides)  # type: ignore[arg-type]
