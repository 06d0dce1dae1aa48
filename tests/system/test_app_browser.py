"""The dashboard in a real browser (issue 13, parts 2 and 3): `seedsoil app` on loopback, driven
by headless Chromium. A small cohort runs through the widgets and its figures appear without a
page reload; one patient's journey is shown; a comparison of the same patients with one change
gives its table; an out-of-range number typed by hand shows the command line's message in the
page and the app keeps working; nothing is fetched from outside the machine; a screenshot is
saved."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from browser import browser, requested_urls

ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
WAIT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([*ENTRY, "app", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise AssertionError(f"seedsoil app did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.5)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=20)


def _type(driver, element_id: str, text: str) -> None:
    box = driver.find_element(By.ID, element_id)
    box.send_keys(Keys.CONTROL, "a")  # a React input keeps its value through clear()
    box.send_keys(text)


def _figures_rendered(driver, where: str, at_least: int) -> bool:
    return driver.execute_script(
        f"const imgs = document.querySelectorAll('#{where} img');"
        f"return imgs.length >= {at_least} && Array.from(imgs).every(i => i.complete && i.naturalWidth > 100);")


@pytest.mark.slow
def test_dashboard_runs_follows_compares_and_reports_errors(server, tmp_path):
    url, proc = server
    driver = browser(1300, 1000)
    wait = WebDriverWait(driver, WAIT_S)
    try:
        driver.get(url)
        wait.until(ec.element_to_be_clickable((By.ID, "run")))
        _type(driver, "patients", "1500")
        driver.find_element(By.ID, "run").click()
        wait.until(lambda d: _figures_rendered(d, "figures", 7))  # the report's seven cohort figures
        assert driver.find_element(By.ID, "progress").get_attribute("value") == "1"
        assert "1,500 patients" in driver.find_element(By.ID, "status").text
        assert driver.find_elements(By.ID, "summary-table")
        # follow one patient of that cohort
        _type(driver, "patient", "7")
        driver.find_element(By.ID, "show").click()
        wait.until(lambda d: "Patient 7" in (d.find_elements(By.ID, "story") or [None])[0].text
                   if d.find_elements(By.ID, "story") else False)
        assert _figures_rendered(driver, "journey", 1)
        # compare the same patients with CXCR4 homing doubled
        driver.find_element(By.ID, "compare").click()
        wait.until(lambda d: d.find_elements(By.ID, "compare-table") and _figures_rendered(d, "comparison", 1))
        # an out-of-range number typed by hand: the command line's message, in the page
        _type(driver, "param-organ__bone__soil_fit", "99")
        driver.find_element(By.ID, "run").click()
        wait.until(lambda d: "must be in [0, 50]" in d.find_element(By.ID, "error").text)
        assert "parameters.organ.bone.soil_fit = 99" in driver.find_element(By.ID, "error").text
        # ... and the app keeps working
        _type(driver, "param-organ__bone__soil_fit", "20")
        _type(driver, "patients", "1200")
        driver.find_element(By.ID, "run").click()
        wait.until(lambda d: "1,200 patients" in d.find_element(By.ID, "status").text)
        assert driver.find_element(By.ID, "error").text == ""
        outside = [u for u in requested_urls(driver) if not (u.startswith(url) or u.startswith("data:"))]
        assert not outside, f"the dashboard asked for {outside[:3]}"
        assert driver.save_screenshot(str(tmp_path / "app.png"))
    finally:
        driver.quit()
    assert proc.poll() is None  # still serving


def test_non_loopback_host_warns():
    proc = subprocess.Popen([*ENTRY, "app", "--host", "0.0.0.0", "--port", str(_free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert first.startswith("warning: --host 0.0.0.0") and "run simulations" in first
    bad = subprocess.run([*ENTRY, "app", "--port", "70000"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--port must be at most 65,535" in bad.stderr
