"""The web page in a real browser: Debian's Chromium, headless, driven through its WebDriver
(chromium-driver) by selenium; both packages are installed by the test setup when missing.

Screenshots go to test-output/browser/ at the repository's root (git-ignored), one per step.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.servers import BROWSER_PACKAGES, ensure_installed
from worker.conftest import processes, worker_base_env, worker_env  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-output" / "browser"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium at 1280x900 that keeps its console log (for the policy's complaints)."""
    ensure_installed(BROWSER_PACKAGES)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
        "--disable-dev-shm-usage",
        "--lang=en-US",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shoot(browser, screenshots: Path) -> Callable[[str], Path]:
    def save(name: str) -> Path:
        path = screenshots / f"{name}.png"
        assert browser.save_screenshot(str(path)), path
        return path

    return save
