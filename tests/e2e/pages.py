"""What the browser tests do on the bed manager's pages, as a person would."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")


def sign_in(driver: WebDriver, url: str, key: str) -> None:
    """Open `url`, give the key in the page's form, and wait for the page to load with it."""
    driver.get(url)
    until(driver, lambda d: d.find_element(By.ID, "key-input").is_displayed(), 30, "the key form")
    driver.find_element(By.ID, "key-input").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
    until(driver, lambda d: d.find_element(By.ID, "key-form").get_attribute("hidden"), 30, "load")


def until(driver: WebDriver, condition: Callable[[WebDriver], T], seconds: float, what: str) -> T:
    """Wait up to `seconds` for `condition` to be truthy; fail naming `what`."""
    # The page redraws what changed: an element read a moment ago may have been replaced.
    waiting = WebDriverWait(
        driver, seconds, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
    )
    return waiting.until(condition, message=f"waited {seconds} s for {what}")


def tile(driver: WebDriver, service: str) -> WebElement:
    """A service's tile on the dashboard."""
    return driver.find_element(By.CSS_SELECTOR, f'article.tile[data-service="{service}"]')


def tile_queue(driver: WebDriver, service: str) -> str:
    return tile(driver, service).find_element(By.CSS_SELECTOR, ".queue").text


def tile_sparkline(driver: WebDriver, service: str) -> str:
    """The values the tile's sparkline draws, oldest day first."""
    spark = tile(driver, service).find_element(By.CSS_SELECTOR, "svg.spark")
    return spark.get_attribute("data-values") or ""
