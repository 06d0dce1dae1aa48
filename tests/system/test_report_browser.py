"""The report in a real browser (issue 13, part 3, for the report): headless Chromium opens
report.html from disk with every host name unresolvable, every figure must have rendered (loaded,
with its pixel width) and the page must have asked for nothing but itself and its embedded
images. A screenshot is saved beside the report."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from browser import browser, requested_urls

ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "run"
    res = subprocess.run([*ENTRY, "run", "-n", "2000", "-s", "5", "--out", str(out), "--report", "--workers", "1"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out / "report.html"


@pytest.mark.slow
def test_every_figure_renders_and_nothing_is_fetched(report):
    expected = len(re.findall(r"<img ", report.read_text(encoding="utf-8")))
    driver = browser()
    try:
        driver.get(report.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
        assert len(images) == expected >= 8
        broken = [alt for complete, width, alt in images if not complete or width < 100]
        assert not broken, f"figures that did not render: {broken}"
        assert driver.execute_script("return document.title").startswith("seedsoil report")
        urls = requested_urls(driver)
        outside = [u for u in urls if not (u.startswith("data:") or u == report.as_uri())]
        assert not outside, f"the report asked for {outside[:3]}"
        assert driver.save_screenshot(str(report.with_name("report.png")))
    finally:
        driver.quit()
    assert report.with_name("report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
