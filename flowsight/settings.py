"""One settings object for every flowsight process, read from FLOWSIGHT_* environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGUE = REPO_ROOT / "deploy" / "catalogue" / "leeds.yaml"

#: Used only when FLOWSIGHT_ENVIRONMENT=development and no key is set; never valid elsewhere.
DEVELOPMENT_PSEUDONYM_KEY = "flowsight-development-only-key-do-not-use-in-production"


class Settings(BaseSettings):
    """Everything a flowsight process can be told; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWSIGHT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    kafka_version: str = "3.9.2"
    kafka_heap: str = "512m"
    topic_namespace: str = Field(
        "flowsight", pattern=r"^[A-Za-z0-9_-]+$", description="first segment of every topic name"
    )
    topic_partitions: int = Field(3, ge=1)
    topic_replication: int = Field(1, ge=1)
    app_id: str = "flowsight"

    # Local services (the `flowsight kafka` / `flowsight postgres` helpers)
    cache_dir: Path = Path.home() / ".cache" / "flowsight"
    data_dir: Path = REPO_ROOT / "var"

    # Read model
    database_url: str = ""

    # Worker
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 6067
    state_store: str = "memory://"
    sink_batch_size: int = Field(500, ge=1)
    sink_batch_seconds: float = Field(0.5, gt=0)
    daily_refresh_seconds: float = Field(30.0, gt=0)
    lag_sample_seconds: float = Field(15.0, gt=0)
    ready_max_lag: int = Field(1000, ge=0)

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

    @field_validator("pseudonym_key", "simulator_seed", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FLOWSIGHT_PSEUDONYM_KEY=` in an .env file means "not set", not "the empty key".
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and self.pseudonym_key is None:
            raise ValueError(
                "FLOWSIGHT_PSEUDONYM_KEY must be set in production: "
                "patient pseudonyms are keyed with it"
            )
        if self.environment == "production" and not self.api_keys and not self.oidc_issuer:
            raise ValueError(
                "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER must be set in production: "
                "create keys with `flowsight keys create`, or name your identity provider"
            )
        if self.pseudonym_key is not None and len(self.pseudonym_key.get_secret_value()) < 32:
            raise ValueError("FLOWSIGHT_PSEUDONYM_KEY must be at least 32 characters long")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'flowsight.db'}"

    @property
    def pseudonym_secret(self) -> bytes:
        """The HMAC key for pseudonyms (the development key only in development and tests)."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        return DEVELOPMENT_PSEUDONYM_KEY.encode()

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


def load_settings(**overrides: object) -> Settings:
    """Read the settings once, at an entry point; pass the object down from there."""
    return Settings(**overrides)  # type: ignore[arg-type]
