"""A real headless Chromium for the page tests (Debian's `chromium` and `chromium-driver`,
driven by selenium; no browser is downloaded at run time). Missing ones skip the tests
outside CI and fail them under CI=true (conftest.missing_component)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time

from conftest import missing_component

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver", "chromium-driver")
WIDTH, HEIGHT = 1400, 1000


def _found(names):
    return next((path for path in map(shutil.which, names) if path), None)


@contextlib.contextmanager
def chromium():
    """A selenium driver of a fresh headless Chromium, 1400 x 1000, its console log kept."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_component("selenium is not installed (pip install -e '.[test]')")
    browser, driver_path = _found(CHROMIUM), _found(DRIVER)
    if browser is None or driver_path is None:
        missing_component("Chromium or its driver is not installed (Debian packages chromium, chromium-driver)")
    profile = tempfile.mkdtemp(prefix="refbp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """The page's console messages of level SEVERE since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(driver, condition, seconds: float = 60.0) -> None:
    """Poll `condition(driver)` until it holds (a click that loads a page returns before the page)."""
    deadline = time.monotonic() + seconds
    while not condition(driver):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {seconds:g} s: {driver.current_url}")
        time.sleep(0.1)
