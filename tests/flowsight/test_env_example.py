"""The documented .env.example is a working configuration that documents every setting."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flowsight.settings import REPO_ROOT, Settings

ENV_EXAMPLE = REPO_ROOT / ".env.example"


def test_env_example_loads_as_a_local_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert settings.environment == "local"
    assert settings.pseudonym_key is None, "an empty key in .env means unset, not the empty key"
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {
        name.lower()
        for name in re.findall(r"^#? ?FLOWSIGHT_([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M)
    }
    assert set(Settings.model_fields) == documented
