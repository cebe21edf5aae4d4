"""Shared by the API tests that run on a real (SQLite) read model."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsight.readmodel.migrate import upgrade


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A fresh read model, migrated to the head revision as the worker leaves it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    upgrade(url)
    return url
