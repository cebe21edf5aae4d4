"""Shared by the API tests: a clean environment, and a real (SQLite) read model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowsight.adapters.readmodel.migrate import upgrade


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
