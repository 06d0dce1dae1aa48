"""Regenerate docs/report.png, the README's picture of a run's report: a small default run with
--report, opened in headless Chromium at its survival section (needs Debian's chromium and
chromium-driver, as the browser tests do). Run: .venv/bin/python docs/screenshots.py"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "system"))
from browser import browser  # noqa: E402

OUT = Path(__file__).with_name("report.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        subprocess.run([sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()", "run", "-n", "5000",
                        "--out", str(run), "--report"], check=True, capture_output=True)
        driver = browser(1000, 760)
        try:
            driver.get((run / "report.html").as_uri())
            driver.execute_script("document.querySelectorAll('h2')[3].scrollIntoView()")
            driver.save_screenshot(str(OUT))
        finally:
            driver.quit()
    print(f"{OUT} written")


if __name__ == "__main__":
    main()
