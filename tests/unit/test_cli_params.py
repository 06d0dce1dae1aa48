"""`seedsoil params`, `scenarios` and `--version` through typer's CliRunner (no engine needed)."""

from __future__ import annotations

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

