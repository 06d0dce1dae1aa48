"""`seedsoil run` on a bad scenario: exit status 2, one `error:` line on stderr, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("seedsoil.interfaces.cli", reason="the CLI is not available")

BAD_SCENARIOS = {
    "unknown-top-level-key": ('nmae = "x"\n', "nmae"),
    "unknown-cohort-key": ("[cohort]\nfollowup_years = 3\n", "cohort.followup_years"),
    "unknown-parameter": ('[parameters]\n"growth.vdt_days.luminal_c" = 100\n', "growth.vdt_days.luminal_c"),
    "string-for-number": ('[cohort]\nage_mean = "sixty"\n', "cohort.age_mean"),
    "parameter-out-of-range": ('[parameters]\n"growth.vdt_days.her2" = 5000\n', "[30, 2000]"),
    "negative-rate": ('[parameters]\n"dissemination.shed_rate_per_cell_day" = -1\n', "shed_rate_per_cell_day"),
    "probability-above-one": ("[cohort.ilc_share]\nher2 = 1.2\n", "cohort.ilc_share.her2"),
    "bad-toml": ("[cohort\nfollow_up_years = 3\n", "not valid TOML"),
    "subtype-shares": ("[cohort.subtype_shares]\nluminal_a = 0.6\n", "must sum to 1"),
    "empty-clones": ("clones = []\n", "clones"),
    "unknown-trait": ('[[clones]]\nname = "main"\nshare = 1.0\ntraits = { telepathy = 0.5 }\n', "telepathy"),
}


def run_cli(scenario: Path | str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()",
         "run", str(scenario), "--patients", "5", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess, *expected: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert len(lines[0]) > len("error:")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_exits_2_with_one_error_line(tmp_path, case):
    text, expected = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "o"
    line = assert_one_error_line(run_cli(path, out), expected)
    assert str(path) in line
    assert not out.exists(), "nothing may be written for a scenario that does not validate"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    assert_one_error_line(run_cli(path, tmp_path / "o"), str(path), "no such file")


def test_directory_instead_of_file(tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    assert_one_error_line(run_cli(folder, tmp_path / "o"), str(folder), "cannot read the file")


def test_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Hôpital"\n'.encode("latin-1"))
    assert_one_error_line(run_cli(path, tmp_path / "o"), str(path), "cannot read the file")
