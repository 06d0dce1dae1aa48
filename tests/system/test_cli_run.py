"""The main job end to end: `seedsoil run` as a user runs it, in a fresh Python process.

Checks the README's promises: exit status 0, every file of the README's table written, a
manifest naming version, seed and parameter hash, a printed summary; a bad scenario exits 2 with
one `error:` line and leaves an earlier result folder alone; an output that cannot be written
exits 1; `params`, `scenarios`, `--version`. (--out holding another run, --resume and
--overwrite: tests/unit/test_cli_params.py in process, tests/system/test_run_folder.py end to end.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import seedsoil
from seedsoil.interfaces.results import Result
from seedsoil.params import default_parameters
from seedsoil.scenario import load_scenario

README = Path(__file__).resolve().parents[2] / "README.md"
ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
PATIENTS, SEED = 300, 3
TIMEOUT = 300


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("COLUMNS", None)
    return subprocess.run([*ENTRY, *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env)


def readme_files() -> list[str]:
    """File names in the README's table of what `seedsoil run` writes (first column, in backticks)."""
    names: list[str] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names += re.findall(r"`([^`]+)`", first_cell)
    return names


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def assert_one_error_line(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    proc = cli("run", "--patients", str(PATIENTS), "--seed", str(SEED), "--out", str(out))
    return proc, out


# ----- a successful run -------------------------------------------------------------------------

def test_run_exits_0_without_errors(default_run):
    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("error")]


def test_run_writes_every_file_of_the_readme_table(default_run):
    _, out = default_run
    expected = readme_files()
    assert {"patients.parquet", "lesions.parquet", "funnel.parquet", "manifest.json"} <= set(expected)
    assert len(expected) == 9, expected
    for name in expected:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        if name.endswith(".parquet"):
            assert path.read_bytes()[:4] == b"PAR1", name
    leftovers = sorted(p.name for p in out.iterdir() if p.name not in expected)
    assert not leftovers, f"unexpected files (temporaries?) left in the output folder: {leftovers}"


def test_manifest_records_version_seed_and_parameter_hash(default_run):
    _, out = default_run
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seedsoil_version"] == seedsoil.__version__
    assert manifest["seed"] == SEED
    assert manifest["patients"] == PATIENTS
    assert manifest["engine"] == "fast"
    assert manifest["scenario_name"] == "default"
    _, params = load_scenario("default")
    assert manifest["parameter_hash"] == params.digest() == default_parameters().digest()
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["parameter_hash"])
    assert set(manifest["files"]) == set(readme_files())
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert {"patients.parquet", "lesions.parquet", "funnel.parquet"} <= set(manifest["sha256"])
    assert all(v >= 0 for v in manifest["timings"].values())


def test_run_prints_a_summary(default_run):
    proc, out = default_run
    text = proc.stdout
    for needle in ("Cohort", "patients", f"{PATIENTS:,}", "distant relapses", "Median overall survival",
                   "results written to"):
        assert needle in text, needle
    assert str(out.resolve()) in text.replace("\n", "")


def test_cli_tables_equal_the_api(default_run):
    """The command line runs the same cohort as seedsoil.simulate with the same arguments."""
    _, out = default_run
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the manifest's parameter hash must match today's defaults
        saved = Result.load(out)
    fresh = seedsoil.simulate("default", patients=PATIENTS, seed=SEED)
    assert len(pq.read_table(out / "patients.parquet")) == PATIENTS
    for name in ("patients", "lesions", "funnel"):
        loaded, simulated = getattr(saved, name), getattr(fresh, name)
        assert_frame_equal(loaded, simulated[list(loaded.columns)], check_exact=True, check_dtype=False, obj=name)


def test_run_small_scenario_into_the_default_folder(tmp_path):
    """`seedsoil run small --patients 50` with no --out writes ./seedsoil-run (README defaults)."""
    proc = cli("run", "small", "--patients", "50", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "seedsoil-run"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenario_name"] == "small"
    assert manifest["engine"] == load_scenario("small")[0].engine
    assert manifest["patients"] == 50
    assert manifest["seed"] == 20261121
    assert manifest["parameter_hash"] == load_scenario("small")[1].digest() != default_parameters().digest()
    assert len(pq.read_table(out / "patients.parquet")) == 50


# ----- failures ---------------------------------------------------------------------------------

BAD = {"out-of-range": '[parameters]\n"growth.vdt_days.her2" = 5000\n'}  # more cases: test_cli_errors.py


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_leaves_an_existing_result_untouched(default_run, tmp_path, case):
    _, good = default_run
    out = tmp_path / "out"
    shutil.copytree(good, out)  # copy2 keeps the modification times
    before = snapshot(out)
    bad = tmp_path / f"{case}.toml"
    bad.write_text(BAD[case], encoding="utf-8")
    line = assert_one_error_line(cli("run", str(bad), "--patients", "20", "--out", str(out)))
    assert str(bad) in line
    assert snapshot(out) == before


@pytest.fixture(scope="module")
def out_is_a_file(tmp_path_factory):
    """`seedsoil run --out FILE` where FILE is a regular file: (process, folder holding FILE)."""
    folder = tmp_path_factory.mktemp("file-out")
    target = folder / "taken"
    target.write_text("keep me\n", encoding="utf-8")
    return cli("run", "--patients", "5", "--out", str(target)), folder


def test_output_path_that_is_a_file_is_one_error_line(out_is_a_file):
    """--out names a regular file: one `error:` line naming it, no traceback, the file left as it was."""
    proc, folder = out_is_a_file
    target = folder / "taken"
    line = assert_one_error_line(proc, code=proc.returncode)
    assert proc.returncode in (1, 2)
    assert str(target) in line and "not a folder" in line
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert [p.name for p in folder.iterdir()] == ["taken"]


def test_output_path_that_is_a_file_exits_1(out_is_a_file):
    """Could not write the output: exit status 1 (cli.py: 2 is bad input, 1 could not write)."""
    proc, _ = out_is_a_file
    assert proc.returncode == 1, proc.stderr


def test_output_path_inside_a_file_exits_1(tmp_path):
    """A folder that cannot be made (its parent is a regular file): exit 1, one `error:` line."""
    target = tmp_path / "taken"
    target.write_text("keep me\n", encoding="utf-8")
    line = assert_one_error_line(cli("run", "--patients", "5", "--out", str(target / "sub")), code=1)
    assert "cannot write results" in line and str(target / "sub") in line
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_reference_engine_option(tmp_path):
    """`--engine reference`, which the CLI offers, runs (the per-cell engine on a few small tumours)."""
    out = tmp_path / "o"
    proc = cli("run", "small", "--patients", "5", "--engine", "reference", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["engine"] == "reference"


# ----- other commands ---------------------------------------------------------------------------

def test_version():
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"seedsoil {seedsoil.__version__}"


def test_installed_console_script_is_the_same_program():
    script = Path(sys.executable).with_name("seedsoil")
    script = script if script.exists() else shutil.which("seedsoil")
    if not script:
        pytest.skip("the seedsoil console script is not installed next to this Python")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip() == f"seedsoil {seedsoil.__version__}"


def test_scenarios_lists_the_builtins():
    proc = cli("scenarios")
    assert proc.returncode == 0, proc.stderr
    for name in ("default", "small"):
        sc, _ = load_scenario(name)
        assert re.search(rf"^\W*{name}\b", proc.stdout, flags=re.M), proc.stdout
        assert sc.description in proc.stdout


def test_params_search_and_show():
    proc = cli("params", "ctc_half_life")
    assert proc.returncode == 0, proc.stderr
    assert "circulation.ctc_half_life_h" in proc.stdout
    name = "circulation.ctc_half_life_h"
    meta = default_parameters().meta(name)
    proc = cli("params", "--show", name)
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    for text in (name, meta.unit, meta.confidence):
        assert text in flat, text
    assert meta.source.split()[0] in flat  # the source's first word: rich may fold long text
