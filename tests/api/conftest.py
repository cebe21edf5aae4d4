"""Shared by the API tests: a clean environment, a real (SQLite) read model, the gateway client
with a recording writer, and an API client that trusts a test OIDC identity provider."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.api.auth import new_api_key
from flowsight.api.deps import event_writer
from flowsight.context import build_api
from flowsight.settings import Settings
from tests.api.gateway import RecordingWriter, settings
from tests.api.identity import AUDIENCE, IdentityProvider


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer FLOWSIGHT_* variable or .env file may change what these tests see."""
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A fresh read model, migrated to the head revision as the worker leaves it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    upgrade(url)
    return url


@pytest.fixture
def writer() -> RecordingWriter:
    return RecordingWriter()


@pytest.fixture
async def client(tmp_path: Path, writer: RecordingWriter) -> AsyncIterator[httpx.AsyncClient]:
    app = build_api(settings(tmp_path))
    app.dependency_overrides[event_writer] = lambda: writer
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client,
    ):
        yield client


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


def oidc_settings(idp: IdentityProvider, database: str, data_dir: Path, api_keys: str) -> Settings:
    """An API's settings taking tokens of `idp` (roles under realm_access) and `api_keys`."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        # The test identity provider serves plain HTTP, which only local mode accepts; keys and
        # an issuer are configured, so nothing here is open.
        environment="local",
        pseudonym_key="0123456789abcdef" * 2,
        database_url=database,
        data_dir=data_dir,
        api_keys=api_keys,
        kafka_bootstrap="127.0.0.1:1",
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_roles_claim="realm_access.roles",
    )


@pytest.fixture
def oidc_client(idp: IdentityProvider, database: str, tmp_path: Path) -> Iterator[TestClient]:
    _key, entry = new_api_key("dashboard", ["viewer"])
    with TestClient(build_api(oidc_settings(idp, database, tmp_path, entry))) as test_client:
        yield test_client
