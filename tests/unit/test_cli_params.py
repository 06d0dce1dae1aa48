"""`seedsoil params`, `scenarios`, `engines`, `--version` and the options of `seedsoil run`
through typer's CliRunner, in process (end to end in a fresh process: tests/system/test_cli_run.py)."""

from __future__ import annotations

import json
import signal

import pytest
from typer.testing import CliRunner

from seedsoil._version import __version__
from seedsoil.interfaces.cli import app
from seedsoil.params import default_parameters

runner = CliRunner()


def test_params_search_lists_liver_organ_rows():
    res = runner.invoke(app, ["params", "liver"])
    assert res.exit_code == 0, res.output
    liver = [n for n in default_parameters() if n.startswith("organ.liver.")]
    assert liver
    for name in liver:
        assert name in res.stdout


def test_params_search_is_case_insensitive_and_filters():
    res = runner.invoke(app, ["params", "CTC_HALF"])
    assert res.exit_code == 0
    assert "circulation.ctc_half_life_h" in res.stdout
    assert "organ.liver." not in res.stdout


def test_params_show_prints_full_source():
    res = runner.invoke(app, ["params", "--show", "circulation.ctc_half_life_h"])
    assert res.exit_code == 0, res.output
    assert "Meng" in res.stdout
    assert "hour" in res.stdout


def test_params_show_unknown_exits_2_with_suggestion():
    res = runner.invoke(app, ["params", "--show", "circulation.ctc_halflife"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert res.stderr.startswith("error: unknown parameter")
    assert "circulation.ctc_half_life_h" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_params_no_match_exits_2():
    res = runner.invoke(app, ["params", "no-such-word-anywhere"])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_scenarios_and_version():
    res = runner.invoke(app, ["scenarios"])
    assert res.exit_code == 0 and "default" in res.stdout and "small" in res.stdout
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.stdout


# ----- `seedsoil engines` -----------------------------------------------------------------------

def test_engines_lists_every_registered_engine():
    from seedsoil.engine import ENGINES

    res = runner.invoke(app, ["engines"])
    assert res.exit_code == 0, res.output
    assert set(ENGINES) >= {"fast", "reference"}
    for name, cls in ENGINES.items():
        assert name in res.stdout
        assert cls.description.split()[0] in res.stdout
    assert "batch" in res.stdout and "per cell" in res.stdout


# ----- `seedsoil run` options, in process ---------------------------------------------------------

@pytest.fixture
def keep_sigterm():
    """`seedsoil run` installs a SIGTERM handler; give the test process its own back afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def one_error_line(res, code: int = 2) -> str:
    assert res.exit_code == code, (res.exit_code, res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


BAD_RUN_OPTIONS = {
    "patients-fraction": (["--patients", "1.5"], "--patients"),
    "patients-zero": (["--patients", "0"], "--patients"),
    "patients-word": (["--patients", "many"], "--patients"),
    "patients-too-many": (["--patients", "2e9"], "--patients"),
    "workers-zero": (["--workers", "0"], "--workers"),
    "workers-word": (["--workers", "two"], "--workers"),
    "resume-and-overwrite": (["--resume", "--overwrite"], "--resume"),
    "unknown-engine": (["--engine", "warp"], "--engine"),
    "chunk-not-whole-blocks": (["--chunk-patients", "1000"], "1024"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_OPTIONS))
def test_bad_run_option_exits_2_and_writes_nothing(tmp_path, keep_sigterm, case):
    args, needle = BAD_RUN_OPTIONS[case]
    out = tmp_path / "o"
    line = one_error_line(runner.invoke(app, ["run", "--patients", "5", "--workers", "1", "--out", str(out), *args]))
    assert needle in line, line
    assert not out.exists()


@pytest.mark.parametrize(("text", "count"), [("1e6", 1_000_000), ("1e8", 100_000_000), ("1_000", 1000),
                                            ("2.5e3", 2500), ("7", 7)])
def test_patients_accepts_plain_underscored_and_scientific_counts(monkeypatch, keep_sigterm, tmp_path,
                                                                  synthetic_tables, text, count):
    """`--patients 1e6` is a million patients (api.run is replaced: only the parsing is under test)."""
    from seedsoil.interfaces import api, cli
    from seedsoil.interfaces.results import Result
    from seedsoil.scenario import load_scenario

    seen = {}

    def fake_run(scenario, out, **kwargs):
        seen.update(kwargs, out=out)
        sc, p = load_scenario("default")
        return Result(scenario=sc, params=p, seed=kwargs["seed"], engine=kwargs["engine"], **synthetic_tables)

    monkeypatch.setattr(api, "run", fake_run)
    res = runner.invoke(app, ["run", "--patients", text, "--seed", "9", "--workers", "2", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert seen["patients"] == count and seen["seed"] == 9 and seen["workers"] == 2
    assert (seen["resume"], seen["overwrite"], seen["scheduler"]) == (False, False, None)
    long_run = count / cli.ESTIMATE_PATIENTS_PER_S > cli.ESTIMATE_ABOVE_S  # a time estimate only for long runs
    assert (f"simulating {count:,} patients: about" in res.stdout) == long_run, res.stdout[:300]


def test_out_holding_another_run_needs_overwrite_or_the_same_run_to_resume(tmp_path, keep_sigterm):
    """A real (small) run in process; then another run into the same folder is refused (exit 2,
    one line, folder unchanged) unless --overwrite; --resume of the finished same run is a no-op."""
    out = tmp_path / "run"
    base = ["run", "small", "--patients", "20", "--workers", "1", "--out", str(out)]
    first = runner.invoke(app, [*base, "--seed", "1"])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    assert "--overwrite" in one_error_line(runner.invoke(app, [*base, "--seed", "2"]))
    assert "different run" in one_error_line(runner.invoke(app, [*base, "--seed", "2", "--resume"]))
    assert "no run to resume" in one_error_line(
        runner.invoke(app, ["run", "small", "--patients", "20", "--workers", "1", "--resume",
                            "--out", str(tmp_path / "empty")]))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    same = runner.invoke(app, [*base, "--seed", "1", "--resume"])
    assert same.exit_code == 0, same.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    replaced = runner.invoke(app, [*base, "--seed", "2", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["seed"] == 2
    assert set(before) == {p.name for p in out.iterdir()}
