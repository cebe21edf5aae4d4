"""Real services for integration and browser tests: one Kafka broker per test process and one
PostgreSQL cluster shared by them, started only when a test asks for them.

A service that cannot start fails the tests that need it; nothing here ever skips.

Under pytest-xdist (`deploy/test.sh` runs `-n 2 --dist loadfile` on CI) each worker process has
its own session, so its own broker; each test module is one unit of work (its module fixtures run
once), the fault campaign's modules are one unit (it runs once), and the units that start real
services go first so that no long one is left for the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from flowsight.devtools.local.kafka import LocalKafka
from flowsight.devtools.local.postgres import LocalPostgres
from flowsight.settings import Settings
from tests.integration.stack import Stack, free_port, running_stack, stack_env


def pytest_configure(config: pytest.Config) -> None:
    """Settings a test builds describe a trial on one machine (local mode) unless it says
    otherwise: anything else refuses to start without credentials and a pseudonym key."""
    os.environ.setdefault("FLOWSIGHT_ENVIRONMENT", "local")


#: The fault campaign (tests/reliability/conftest.py) runs once per test process, the first time
#: one of its tests asks for it; its tests therefore share one unit of work.
CAMPAIGN = "tests/reliability/"
#: Fixtures and markers of the tests that wait on real services: their modules start first.
SLOW_FIXTURES = frozenset({"kafka_bootstrap", "local_postgres", "stack"})
SLOW_MARKERS = ("integration", "postgres")


def work_unit(nodeid: str) -> str:
    """What one xdist worker runs as a whole: the fault campaign's tests, or one module."""
    return CAMPAIGN if nodeid.startswith(CAMPAIGN) else nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, but with the fault campaign's modules as one unit (xdist's own
    loadgroup marks do not reach pytest 9's node ids). Units go out in collection order."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class CampaignOnce(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return CampaignOnce(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, the fault campaign's unit first, then the modules that start real
    services, so that no long unit is left for the end; every worker sorts alike, as xdist
    requires. A run without xdist keeps the collection order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        slow = SLOW_FIXTURES.intersection(item.fixturenames) or any(
            item.get_closest_marker(name) for name in SLOW_MARKERS
        )
        rank[unit] = min(rank.get(unit, 2), 0 if unit == CAMPAIGN else 1 if slow else 2)
    items.sort(key=lambda item: rank[work_unit(item.nodeid)])


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
    """A real PostgreSQL cluster from Debian's packages, for the whole test session; shared with
    the other test processes (each test makes its own database), stopped by the last of them."""
    server = LocalPostgres(port=TEST_POSTGRES_PORT, cluster=TEST_POSTGRES_CLUSTER)
    with ExitStack() as lease:
        try:
            lease.enter_context(server.shared(timeout=180))
        except Exception as error:
            pytest.fail(f"could not start the test PostgreSQL: {error}", pytrace=False)
        yield server


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
