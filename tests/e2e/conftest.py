"""A real browser: Debian's Chromium, headless, driven through Debian's chromedriver with
Selenium; both installed when missing (never skipped)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.debian import ensure_program

# Chromium as root in a sandbox-less container, with no traffic off this machine.
BROWSER_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        return ensure_program("chromium", "chromium")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def chromedriver(chromium: str) -> str:
    try:
        return ensure_program("chromedriver", "chromium-driver")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def browser(chromium: str, chromedriver: str) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (own profile, empty session storage) for one test."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()
