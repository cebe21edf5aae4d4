"""The API over a read model a test has filled: settings with keys and no broker."""

from __future__ import annotations

from pathlib import Path

from flowsight.settings import Settings


def api_settings(database_url: str, data_dir: Path, api_keys: str) -> Settings:
    """Settings for an API that reads `database_url`, accepts `api_keys` and has no Kafka."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        pseudonym_key="p" * 32,
        database_url=database_url,
        data_dir=data_dir,
        api_keys=api_keys,
        kafka_bootstrap="127.0.0.1:1",
    )
