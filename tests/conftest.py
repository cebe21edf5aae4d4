"""Real services for integration and browser tests: one Kafka broker and one PostgreSQL cluster
per session, started only when a test asks for them.

A service that cannot start fails the tests that need it; nothing here ever skips.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowsight.devtools.local.kafka import LocalKafka
from flowsight.devtools.local.postgres import LocalPostgres
from flowsight.settings import Settings
from tests.integration.stack import Stack, free_port, running_stack, stack_env


def pytest_configure(config: pytest.Config) -> None:
    """Settings a test builds describe a trial on one machine (local mode) unless it says
    otherwise: anything else refuses to start without credentials and a pseudonym key."""
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", "local")


#: Tests use their own PostgreSQL cluster, so a developer's flowsight cluster on 5433 is untouched.
TEST_POSTGRES_PORT = 5434
TEST_POSTGRES_CLUSTER = "flowsight-test"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-node broker on free ports for the whole test session."""
    data_dir = tmp_path_factory.mktemp("kafka")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="local",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        data_dir=data_dir,
    )
    broker = LocalKafka(settings, data_dir=data_dir / "kafka")
    try:
        broker.start(timeout=180)
    except Exception as error:
        pytest.fail(f"could not start the test Kafka broker: {error}", pytrace=False)
    yield settings.kafka_bootstrap
    broker.stop()


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL cluster from Debian's packages, for the whole test session."""
    server = LocalPostgres(port=TEST_POSTGRES_PORT, cluster=TEST_POSTGRES_CLUSTER)
    try:
        started = server.start(timeout=180)
    except Exception as error:
        pytest.fail(f"could not start the test PostgreSQL: {error}", pytrace=False)
    yield server
    if started:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty read-model database: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
        return
    server: LocalPostgres = request.getfixturevalue("local_postgres")
    name = f"flowsight_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(server.create_database(name))
    yield server.url(name)
    asyncio.run(server.drop_database(name))


@pytest.fixture
def stack(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """An isolated flowsight (unique topics and app id) with its worker and API running."""
    with running_stack(stack_env(kafka_bootstrap, database_url, tmp_path), tmp_path) as running:
        running.start_worker()
        running.start_api()
        yield running
