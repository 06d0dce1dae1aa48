"""Headless Chromium for the browser tests (Debian's chromium and chromium-driver, which .ci/run
installs): a missing browser fails the tests loudly, it never skips them."""

from __future__ import annotations

import json
import shutil

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
DRIVER = ("/usr/bin/chromedriver", "chromedriver")


def _which(names) -> str:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    raise RuntimeError(f"no {names[0]} on this machine: install Debian's chromium and chromium-driver "
                       "(apt-get install chromium chromium-driver; .ci/run does)")


def browser(width: int = 1200, height: int = 900):
    """A headless Chromium (Selenium) that logs every network request and resolves no host."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        opts.add_argument(arg)
    opts.binary_location = _which(CHROMIUM)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(_which(DRIVER)), options=opts)


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (Chrome's DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
