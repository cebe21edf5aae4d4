"""A real browser: Debian's Chromium, headless, installed when missing (never skipped)."""

from __future__ import annotations

import pytest

from tests.debian import ensure_program


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        return ensure_program("chromium", "chromium")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
