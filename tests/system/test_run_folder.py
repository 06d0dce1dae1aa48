"""Streamed run folders under real processes: a run killed midway and resumed gives the files
of an uninterrupted run; SIGINT and SIGTERM stop a run cleanly; workers die with their parent;
an output folder holding another run is never changed without --overwrite or --resume."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

PATIENTS = "12288"
CHUNK = "1024"  # 12 chunks
TABLES = ("patients.parquet", "lesions.parquet", "funnel.parquet")
WAIT_S = 120  # generous bound for a hang, never a speed assertion


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()", "run", "--patients", PATIENTS,
            "--chunk-patients", CHUNK, "--out", str(out), *extra]


def _env() -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", "CI": "1"}


def _digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir()) if f.is_file()}


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_cmd(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _wait_for_parts(out: Path, proc: subprocess.Popen, parts: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(list((out / ".seedsoil-partial").glob("funnel-*.json"))) < parts:
        assert proc.poll() is None, f"run ended before {parts} chunks were written: {proc.communicate()}"
        if time.monotonic() > deadline:
            pytest.fail(f"hang: no chunk written within {WAIT_S} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("whole") / "run"
    subprocess.run(_cmd(out, "--workers", "1"), check=True, capture_output=True, env=_env(), timeout=WAIT_S)
    return _digests(out)


def test_killed_run_resumes_to_identical_files(tmp_path, reference_run):
    out = tmp_path / "run"
    proc = _start(out, "--workers", "1")
    _wait_for_parts(out, proc, 3)
    proc.kill()
    proc.wait(WAIT_S)
    assert not (out / "manifest.json").exists(), "a killed run must not claim to be finished"
    assert not (out / "patients.parquet").exists()
    kept = len(list((out / ".seedsoil-partial").glob("funnel-*.json")))
    assert 3 <= kept < 12
    done = subprocess.run(_cmd(out, "--workers", "2", "--resume"), capture_output=True, text=True, env=_env(),
                          timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    got = _digests(out)
    for name in TABLES:
        assert got[name] == reference_run[name], name
    assert "manifest.json" in got and not (out / ".seedsoil-partial").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_run_cleanly(tmp_path, sig):
    out = tmp_path / "run"
    proc = _start(out, "--workers", "2")
    _wait_for_parts(out, proc, 1)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted") and "--resume" in lines[0], err
    assert not (out / "manifest.json").exists()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"worker processes survived: {alive}"


def test_workers_die_with_a_killed_parent(tmp_path):
    out = tmp_path / "run"
    proc = _start(out, "--workers", "2")
    _wait_for_parts(out, proc, 1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children
    proc.kill()
    proc.wait(WAIT_S)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"orphaned workers: {alive}"


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()", *args],
                          capture_output=True, text=True, env=_env(), timeout=WAIT_S)


def _one_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_output_folder_guards(tmp_path):
    out = tmp_path / "run"
    first = _run_cli("run", "--patients", "50", "--out", str(out), "--seed", "1")
    assert first.returncode == 0, first.stderr
    before = _digests(out)
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--seed", "2"), "--overwrite")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--seed", "2", "--resume"), "different run")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(tmp_path / "empty"), "--resume"), "no run to resume")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--workers", "0"), "--workers", "0")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--workers", "-3"), "--workers")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--scheduler", "not an address"), "scheduler")
    _one_error(_run_cli("run", "--patients", "50", "--out", str(out), "--scheduler", "127.0.0.1:1"), "scheduler")
    assert _digests(out) == before, "a refused run changed the folder"
    again = _run_cli("run", "--patients", "50", "--out", str(out), "--seed", "1", "--resume")
    assert again.returncode == 0, again.stderr  # the same finished run: nothing left to do
    assert _digests(out) == before
    replaced = _run_cli("run", "--patients", "60", "--out", str(out), "--seed", "2", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert _digests(out)["patients.parquet"] != before["patients.parquet"]
