"""Regenerate the README's pictures: docs/report.png (a small default run's report at its survival
section) and docs/app.png (the dashboard after a run of 2,000 patients), in headless Chromium
(Debian's chromium and chromium-driver, as the browser tests). Run: .venv/bin/python docs/screenshots.py"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "system"))
from browser import browser  # noqa: E402

OUT = Path(__file__).with_name("report.png")
APP_OUT = Path(__file__).with_name("app.png")
CLI = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]


def app_screenshot() -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*CLI, "app", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        driver = browser(1100, 800)
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "run"))
            driver.find_element(By.ID, "run").click()
            WebDriverWait(driver, 120).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#figures img")) >= 4)
            driver.execute_script("document.getElementById('status').scrollIntoView()")
            driver.save_screenshot(str(APP_OUT))
        finally:
            driver.quit()
    finally:
        server.terminate()
    print(f"{APP_OUT} written")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        subprocess.run([*CLI, "run", "-n", "5000", "--out", str(run), "--report"], check=True, capture_output=True)
        driver = browser(1000, 760)
        try:
            driver.get((run / "report.html").as_uri())
            driver.execute_script("document.querySelectorAll('h2')[3].scrollIntoView()")
            driver.save_screenshot(str(OUT))
        finally:
            driver.quit()
    print(f"{OUT} written")
    app_screenshot()


if __name__ == "__main__":
    main()
