"""`seedsoil organ ...` through typer's CliRunner: the bone model's course, figure and SBML, the
other organs' soil and figures, and every error as one line with exit status 2."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from typer.testing import CliRunner

from seedsoil.biology.bone import BoneCourse
from seedsoil.biology.organs import ORGANS
from seedsoil.interfaces.cli import app

runner = CliRunner()
COURSE_COLUMNS = ["day", *[f.name for f in dataclasses.fields(BoneCourse) if f.name != "t"]]
SHORT = "400"
"""Days for the seedsoil runs here (fast; the default is 3000)."""


def _ok(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, (res.output, res.stderr)
    return res


def _error(args, *words):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _png(path):
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- happy paths -------------------------------------------------------------------------------------
def test_bone_seedsoil_with_denosumab_writes_course_figure_and_sbml(tmp_path):
    libsbml = pytest.importorskip("libsbml")
    out, sbml = tmp_path / "bone", tmp_path / "bone.xml"
    res = _ok(["organ", "bone", "--days", SHORT, "--out", str(out), "--pthrp", "0.6",
               "--denosumab", "120,28,100", "--export-sbml", str(sbml)])
    table = pd.read_csv(out / "bone_course.csv")
    assert list(table.columns) == COURSE_COLUMNS
    assert len(table) == int(SHORT) + 1 and table["day"].iloc[-1] == float(SHORT)
    assert table["rankl_block"].iloc[0] == 0.0 and table["rankl_block"].iloc[-1] > 0.0  # from day 100
    _png(out / "bone.png")
    doc = libsbml.readSBMLFromFile(str(sbml))
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    ids = {doc.getModel().getSpecies(i).getId() for i in range(doc.getModel().getNumSpecies())}
    assert {"osteoclasts", "osteoblasts", "bone_mass", "tumour", "denosumab_amount"} <= ids
    for words in ("seedsoil model", "steady state", "lowest bone mass", "tumour on day", "radiotherapy threshold",
                  "bone as soil"):
        assert words in res.stdout, words


def test_bone_sbml_simulates_like_the_csv(tmp_path):
    roadrunner = pytest.importorskip("roadrunner")
    out, sbml = tmp_path / "k", tmp_path / "k.xml"
    _ok(["organ", "bone", "--model", "komarova2003", "--out", str(out), "--export-sbml", str(sbml)])
    table = pd.read_csv(out / "bone_course.csv")
    assert len(table) == 401  # Komarova's default 400 days
    r = roadrunner.RoadRunner(str(sbml))
    r.integrator.relative_tolerance = 1e-10
    r.integrator.absolute_tolerance = 1e-14
    r.timeCourseSelections = ["time", "bone_mass"]
    res = r.simulate(0, 400, 401)
    assert abs(res[:, 1] - table["bone_mass"].to_numpy()).max() < 1e-4


def test_bone_parquet_and_published_models(tmp_path):
    _ok(["organ", "bone", "--model", "ayati2010", "--days", "700", "--out", str(tmp_path), "--format", "parquet",
         "--zoledronic-acid", "4,28", "--agent", "denosumab=60,56,0,300"])
    table = pd.read_parquet(tmp_path / "bone_course.parquet")
    assert list(table.columns) == COURSE_COLUMNS and len(table) == 701
    assert table["osteoclast_death_gain"].max() > 0 and table["rankl_block"].max() > 0
    _png(tmp_path / "bone.png")


def test_bone_uses_the_scenario_parameters(tmp_path):
    scenario = tmp_path / "strong.toml"
    scenario.write_text('name = "strong"\n[parameters]\n"bone.rankl_gain" = 4.0\n', encoding="utf-8")
    base, strong = tmp_path / "base", tmp_path / "strong"
    _ok(["organ", "bone", "--days", "2000", "--pthrp", "0.6", "--out", str(base)])
    _ok(["organ", "bone", str(scenario), "--days", "2000", "--pthrp", "0.6", "--out", str(strong)])
    low = pd.read_csv(base / "bone_course.csv")["bone_mass"].min()
    lower = pd.read_csv(strong / "bone_course.csv")["bone_mass"].min()
    assert lower < low  # more RANKL per unit PTHrP: more bone lost


def test_organ_list_shows_every_organ_and_its_soil():
    res = _ok(["organ", "list"])
    for o in ORGANS:
        assert o in res.stdout
    for col in ("blood_flow_share", "cxcl12", "extravasation_ease", "soil_fit", "growth_fold", "detection_mm",
                "tolerated_burden_cells", "symptoms", "cough"):
        assert col in res.stdout, col


@pytest.mark.parametrize("organ", [o for o in ORGANS if o != "bone"])
def test_every_other_organ_writes_its_figure(organ, tmp_path):
    res = _ok(["organ", organ, "--out", str(tmp_path)])
    _png(tmp_path / f"{organ}.png")
    assert "mean over organs" in res.stdout
    if organ == "brain":
        for trait in ("her2", "bbb_crossing", "brain_metabolism", "nrg_response"):
            assert trait in res.stdout


# -- errors: one line, exit 2, nothing written or lost --------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--days", "0"], ("--days", "positive")),
    (["--days", "-3"], ("--days", "-3")),
    (["--days", "soon"], ("--days", "soon")),
    (["--model", "komarova2004"], ("komarova2004", "seedsoil", "komarova2003", "ayati2010")),
    (["--format", "xlsx"], ("xlsx", "csv", "parquet")),
    (["--denosumab", "-120,28"], ("--denosumab", "dose_mg", "-120")),
    (["--denosumab", "120"], ("--denosumab", "DOSE_MG,INTERVAL_DAYS")),
    (["--denosumab", "120,28,0,10,5"], ("--denosumab", "DOSE_MG,INTERVAL_DAYS")),
    (["--denosumab", "120,weekly"], ("--denosumab", "interval_days", "weekly")),
    (["--zoledronic-acid", "4,0"], ("--zoledronic-acid", "interval_days", "0")),
    (["--zoledronic-acid", "4,28,200,100"], ("stop_day", "100", "start_day", "200")),
    (["--agent", "aspirin=100,1"], ("aspirin", "denosumab", "zoledronic_acid")),
    (["--agent", "denosumab"], ("--agent", "DRUG=")),
    (["--pthrp", "1.5"], ("--pthrp", "1.5")),
    (["--model", "komarova2003", "--pthrp", "0.5"], ("--pthrp", "no tumour")),
])
def test_bone_errors_are_one_line_with_status_2(args, words, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results", encoding="utf-8")
    before = _snapshot(out)
    _error(["organ", "bone", "--out", str(out), *args], *words)
    assert _snapshot(out) == before


def test_failed_run_keeps_earlier_results(tmp_path):
    _ok(["organ", "bone", "--days", SHORT, "--out", str(tmp_path)])
    before = _snapshot(tmp_path)
    _error(["organ", "bone", "--days", SHORT, "--out", str(tmp_path), "--denosumab", "120,28,50,10"], "stop_day")
    _error(["organ", "bone", "--days", SHORT, "--out", str(tmp_path), "--export-sbml", str(tmp_path)], "folder")
    assert _snapshot(tmp_path) == before


def test_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[parameters]\n"bone.no_such_thing" = 1\n', encoding="utf-8")
    _error(["organ", "bone", str(bad), "--out", str(tmp_path / "o")], "bone.no_such_thing")
    assert not (tmp_path / "o").exists()


def test_unknown_organ_lists_the_allowed_names(tmp_path):
    line = _error(["organ", "kidney", "--out", str(tmp_path)], "kidney")
    for o in ORGANS:
        assert o in line
    assert "did you mean liver" in _error(["organ", "livr", "--out", str(tmp_path)])


def test_out_that_is_a_file_is_an_output_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x", encoding="utf-8")
    for args in (["organ", "bone", "--days", SHORT, "--out", str(f)], ["organ", "lung", "--out", str(f)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 1 and res.stderr.startswith("error: cannot write results")
        assert f.read_text(encoding="utf-8") == "x"
