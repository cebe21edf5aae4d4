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


def tile_level(driver: WebDriver, service: str) -> WebElement:
    """The OPEL badge of a service's tile: 'OPEL n', or 'not scored' with why as its title."""
    return tile(driver, service).find_element(By.CSS_SELECTOR, ".level .opel")


def tile_queue(driver: WebDriver, service: str) -> str:
    return tile(driver, service).find_element(By.CSS_SELECTOR, ".queue").text


def tile_sparkline(driver: WebDriver, service: str) -> str:
    """The values the tile's sparkline draws, oldest day first."""
    spark = tile(driver, service).find_element(By.CSS_SELECTOR, "svg.spark")
    return spark.get_attribute("data-values") or ""


# The WCAG 2.1 contrast of each piece of visible text under the elements `arguments[0]` selects,
# as painted: its colour over the backgrounds behind it, each layer blended through its opacity.
_CONTRASTS = """
const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
const rgba = (text) => {
  const [r, g, b, a] = text.match(/[\\d.]+/g).map(Number);
  return [r, g, b, a === undefined ? 1 : a];
};
const over = ([r, g, b, a], below) => [r, g, b].map((c, i) => a * c + (1 - a) * below[i]);
function paint(chain, i, below, text) {
  const style = getComputedStyle(chain[i]);
  const here = over(rgba(style.backgroundColor), below);
  const inside = i === chain.length - 1 ? (text ? over(rgba(style.color), here) : here)
    : paint(chain, i + 1, here, text);
  const opacity = Number(style.opacity);
  return inside.map((c, k) => opacity * c + (1 - opacity) * below[k]);
}
const found = [];
for (const root of document.querySelectorAll(arguments[0])) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || !element.checkVisibility() || element.closest(".sr-only")) {
      continue;
    }
    const chain = [];
    for (let e = element; e; e = e.parentElement) chain.unshift(e);
    const ink = luminance(paint(chain, 0, [255, 255, 255], true));
    const paper = luminance(paint(chain, 0, [255, 255, 255], false));
    const ratio = (Math.max(ink, paper) + 0.05) / (Math.min(ink, paper) + 0.05);
    found.push([node.textContent.trim().slice(0, 40), Math.round(ratio * 100) / 100]);
  }
}
return found;
"""


def text_contrasts(driver: WebDriver, selector: str) -> list[tuple[str, float]]:
    """Each visible text under `selector` (its first 40 characters) with its contrast ratio."""
    return [(text, ratio) for text, ratio in driver.execute_script(_CONTRASTS, selector)]
