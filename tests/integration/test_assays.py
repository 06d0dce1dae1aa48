"""The experimental metastasis assays (issue 3): calibration to Luzzi 1998, Fidler 1970 and
Aceto 2014, the per-day population invariant, directions of effect, and the `seedsoil assay` CLI.

Calibrated numbers are checked twice where sampling allows: as exact expectations (path
probabilities from the biology, step delays averaged over many draws) with a tight tolerance,
and as counts of one sampled population with a tolerance of at least 3.5 binomial standard
errors. Seeds are fixed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from seedsoil.engine.assay import (
    ASSAYS, STAGES, AssayError, expected_fractions, metastases_per_disseminated_cell, metastatic_potential,
    mouse_parameters, simulate_assay,
)
from seedsoil.interfaces.assays import ACETO_RANGE, run_assay
from seedsoil.interfaces.cli import app
from seedsoil.params import default_parameters

SEED = 20261121
S = {s: i for i, s in enumerate(STAGES)}
runner = CliRunner()


@pytest.fixture(scope="module")
def intraportal_expected():
    return expected_fractions("intraportal", [3, 13], samples=200_000, seed=1)


@pytest.fixture(scope="module")
def intraportal_million():
    """One population of 1e6 intraportally injected cells (about 1.5 s)."""
    return simulate_assay("intraportal", 1_000_000, [3, 13], SEED)


# --- Luzzi et al. 1998 (intraportal, liver first) ----------------------------------------------

def test_luzzi_extravasated_by_day_3(intraportal_expected, intraportal_million):
    assert intraportal_expected[0, S["extravasated"]] == pytest.approx(0.83, abs=0.02)
    assert intraportal_million.fraction(3, "extravasated") == pytest.approx(0.83, abs=0.02)


def test_luzzi_micrometastases_at_day_3(intraportal_expected, intraportal_million):
    assert intraportal_expected[0, S["micrometastases"]] == pytest.approx(0.025, rel=0.10)
    assert intraportal_million.fraction(3, "micrometastases") == pytest.approx(0.025, rel=0.10)


def test_luzzi_macroscopic_metastases_at_day_13(intraportal_expected, intraportal_million):
    # expectation: tight; 1e6 sampled cells: about 200 metastases, so 25% is over 3.5 standard errors
    assert intraportal_expected[1, S["macrometastases"]] == pytest.approx(0.0002, rel=0.10)
    assert intraportal_million.fraction(13, "macrometastases") == pytest.approx(0.0002, rel=0.25)


def test_luzzi_solitary_dormant_cells_at_day_13(intraportal_expected, intraportal_million):
    assert intraportal_expected[1, S["dormant_solitary"]] == pytest.approx(0.36, abs=0.02)
    assert intraportal_million.fraction(13, "dormant_solitary") == pytest.approx(0.36, abs=0.02)


def test_intraportal_cells_lodge_in_the_liver():
    f = simulate_assay("intraportal", 20_000, [0.1], SEED)
    by_organ = dict(zip(f.organs, f.arrested_by_organ[0]))
    assert by_organ["liver"] > 0.9 * f.count(0.1, "arrested")


# --- Fidler 1970 (intravenous, lung first) -------------------------------------------------------

def test_fidler_one_percent_alive_at_24_hours():
    e = expected_fractions("intravenous", [1], samples=200_000, seed=1)
    assert 1.0 - e[0, S["dead"]] == pytest.approx(0.01, abs=0.002)
    r = run_assay("intravenous", 200_000, [1], SEED)
    # ~2,000 alive of 2e5: binomial sd ~0.0002, tolerance 0.002
    assert r.fraction(1, "alive") == pytest.approx(0.01, abs=0.002)
    by_organ = r.to_dict()["1"]["arrested_by_organ"]
    assert max(by_organ, key=by_organ.get) == "lung"


# --- Aceto et al. 2014 (clusters) ----------------------------------------------------------------

def test_aceto_cluster_potential_per_cell_in_range():
    pot = metastatic_potential(samples=100_000)
    lo, hi = ACETO_RANGE
    assert lo <= pot.ratio <= hi, pot
    assert pot.unit_ratio == pytest.approx(pot.ratio * pot.cluster_size)
    assert pot.cluster_size == default_parameters()["assay.cluster_size"]


def test_clusters_make_more_metastases_per_cell_when_sampled():
    single = simulate_assay("intraportal", 200_000, [21], SEED)
    cluster = simulate_assay("intraportal", 200_000, [21], SEED, cluster_size=4)
    assert cluster.meta["units"] == 50_000 and cluster.cells_per_unit == 4
    assert cluster.count(21, "macrometastases") > 3 * single.count(21, "macrometastases")


# --- the population invariant --------------------------------------------------------------------

@pytest.mark.parametrize("assay", ASSAYS)
def test_every_unit_is_in_exactly_one_state_each_day(assay):
    days = [0.01, 0.5, 1, 3, 13, 30]
    cells = 20_000 if assay != "orthotopic" else 2_000  # rodent shedding (Butler & Gullino) is fast
    f = simulate_assay(assay, cells, days, SEED)
    c = f.counts
    inj, circ, arr, ext, dead, dorm, micro, macro = (c[:, S[s]] for s in STAGES)
    assert np.array_equal(inj, circ + arr + ext + dead)
    assert np.array_equal(ext, dorm + micro + macro + f.undecided)
    assert (f.undecided >= 0).all() and (c >= 0).all()
    assert np.array_equal(f.arrested_by_organ.sum(axis=1), arr)
    assert np.array_equal(f.macrometastases_by_organ.sum(axis=1), macro)
    assert (np.diff(dead) >= 0).all() and (np.diff(macro) >= 0).all()  # the dead stay dead, metastases stay
    if assay == "orthotopic":
        assert (np.diff(inj) >= 0).all() and inj[-1] > 0
        assert (np.diff(f.primary_cells) > 0).all()
    else:
        assert (inj == cells).all()


def test_fractions_sum_to_one_over_the_partition():
    f = simulate_assay("intracardiac", 10_000, [1, 3], SEED)
    fr = f.fractions()
    assert np.allclose(fr[:, [S["alive_in_circulation"], S["arrested"], S["extravasated"], S["dead"]]].sum(axis=1), 1.0)


def test_sampling_agrees_with_the_expectation():
    days = [0.01, 1, 3, 13]
    e = expected_fractions("intravenous", days, samples=200_000, seed=3)
    f = simulate_assay("intravenous", 200_000, days, SEED)
    se = np.sqrt(np.maximum(e * (1 - e), 1e-6) / 200_000)
    assert (np.abs(f.fractions() - e) <= 5 * se + 2e-3 * e).all()


def test_same_seed_same_counts_other_seed_other_counts():
    a = run_assay("intraportal", 30_000, [1, 3], 7).to_dict()
    b = run_assay("intraportal", 30_000, [1, 3], 7).to_dict()
    c = run_assay("intraportal", 30_000, [1, 3], 8).to_dict()
    assert a == b
    assert a != c


# --- directions ----------------------------------------------------------------------------------

def test_more_cells_more_metastases():
    few = simulate_assay("intraportal", 20_000, [13], SEED).count(13, "macrometastases")
    many = simulate_assay("intraportal", 200_000, [13], SEED).count(13, "macrometastases")
    assert many > few and many >= 20


def test_platelet_binding_keeps_more_cells_alive_in_circulation():
    plain = run_assay("intravenous", 100_000, [0.01], SEED)
    cloaked = run_assay("intravenous", 100_000, [0.01], SEED, traits={"platelet_binding": 1.0})
    assert cloaked.fraction(0.01, "alive_in_circulation") > plain.fraction(0.01, "alive_in_circulation") + 0.005
    e0 = expected_fractions("intravenous", [0.01])
    e1 = expected_fractions("intravenous", [0.01], traits=None, params=default_parameters().with_overrides(
        {"assay.trait.platelet_binding": 1.0}))
    assert e1[0, S["alive_in_circulation"]] > e0[0, S["alive_in_circulation"]]


def test_leakier_lung_lets_more_cells_survive_intravenous_injection():
    p = default_parameters()
    base = expected_fractions("intravenous", [3], params=p, samples=50_000)
    leaky = expected_fractions("intravenous", [3], params=p.with_overrides(
        {"assay.mouse.organ.lung.extravasation_ease": 0.1}), samples=50_000)
    assert leaky[0, S["extravasated"]] > 5 * base[0, S["extravasated"]]


def test_bigger_primary_sheds_more():
    small = simulate_assay("orthotopic", 1_000, [14], SEED)
    big = simulate_assay("orthotopic", 100_000, [14], SEED)
    assert big.count(14, "injected") > small.count(14, "injected") > 0


# --- parameters ----------------------------------------------------------------------------------

def test_mouse_values_replace_existing_human_parameters_only():
    p = default_parameters()
    mouse = p.group("assay.mouse")
    assert mouse, "assay.csv defines mouse values"
    assert all(name in p and not name.startswith("assay.") for name in mouse)
    m = mouse_parameters(p)
    assert all(m[name] == value for name, value in mouse.items())
    for name in p:
        if name.startswith("assay."):
            rec = p.meta(name)
            assert rec.source.strip() and rec.confidence in ("verified", "recalled", "estimated", "calibrated")


def test_bad_arguments_raise_assay_error():
    for kwargs in ({"assay": "subcutaneous"}, {"cells": 0}, {"observe": [0]}, {"observe": [-1, 3]},
                   {"observe": ["x"]}, {"cluster_size": 0}, {"cells": 3, "cluster_size": 4}):
        args = {"assay": "intravenous", "cells": 100, "observe": [1], "seed": 1} | kwargs
        with pytest.raises(AssayError):
            simulate_assay(args.pop("assay"), args.pop("cells"), args.pop("observe"), args.pop("seed"), **args)
    with pytest.raises(AssayError):
        simulate_assay("orthotopic", 1000, [5], 1, cluster_size=4)


# --- Coumans et al. 2013 (human model, reported not tuned) ---------------------------------------

def test_human_metastases_per_disseminated_cell_is_reported():
    eff = metastases_per_disseminated_cell(patients=40, seed=SEED)
    assert eff.patients == 40 and eff.shed > eff.entered_blood > 0
    assert eff.colonies >= 0 and math.isfinite(eff.per_shed_unit)
    assert eff.reference_cells_per_metastasis == 6e7


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_json_has_one_object_with_all_stages():
    res = runner.invoke(app, ["assay", "intraportal", "--cells", "5000", "--observe", "1,3,13", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert list(data) == ["1", "3", "13"]
    for day in data.values():
        for stage in STAGES:
            assert set(day[stage]) == {"count", "fraction"}
            assert isinstance(day[stage]["count"], int)
        assert day["injected"]["count"] == 5000 and day["injected"]["fraction"] == 1.0
        assert sum(day[s]["count"] for s in ("alive_in_circulation", "arrested", "extravasated", "dead")) == 5000
        assert isinstance(day["arrested_by_organ"], dict)


def test_cli_table_and_files(tmp_path):
    out = tmp_path / "assay"
    res = runner.invoke(app, ["assay", "intravenous", "--cells", "1e4", "--observe", "0.01,1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "alive in circulation" in res.stdout and "Fidler" in res.stdout
    assert (out / "assay_funnel.png").stat().st_size > 1000
    saved = json.loads((out / "assay.json").read_text())
    again = runner.invoke(app, ["assay", "intravenous", "--cells", "10000", "--observe", "0.01,1", "--json"])
    assert saved["funnel"] == json.loads(again.stdout)


def test_cli_clusters_report_potential():
    res = runner.invoke(app, ["assay", "intravenous", "--cells", "4000", "--clusters", "4", "--observe", "21"])
    assert res.exit_code == 0, res.output
    assert "Aceto" in res.stdout and "per cell" in res.stdout


def test_cli_orthotopic_reports_coumans():
    res = runner.invoke(app, ["assay", "orthotopic", "--cells", "1e5", "--observe", "14", "--patients", "20"])
    assert res.exit_code == 0, res.output
    assert "Coumans" in res.stdout and "primary tumour" in res.stdout


BAD = {
    "unknown-assay": (["assay", "subcutaneous"], 2, "unknown assay"),
    "zero-cells": (["assay", "intravenous", "--cells", "0"], 2, "--cells"),
    "negative-cells": (["assay", "intravenous", "--cells", "-5"], 2, "--cells"),
    "text-cells": (["assay", "intravenous", "--cells", "many"], 2, "--cells"),
    "fractional-cells": (["assay", "intravenous", "--cells", "2.5"], 2, "--cells"),
    "zero-day": (["assay", "intravenous", "--observe", "0,3"], 2, "--observe"),
    "negative-day": (["assay", "intravenous", "--observe=-1"], 2, "--observe"),
    "text-day": (["assay", "intravenous", "--observe", "1,three"], 2, "--observe"),
    "empty-day": (["assay", "intravenous", "--observe", "1,,3"], 2, "--observe"),
    "zero-clusters": (["assay", "intravenous", "--clusters", "0"], 2, "--clusters"),
    "orthotopic-clusters": (["assay", "orthotopic", "--clusters", "3", "--cells", "100"], 2, "clusters"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_one_error_line(case):
    args, code, text = BAD[case]
    res = runner.invoke(app, args)
    assert res.exit_code == code, (res.exit_code, res.output)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], res.stderr
    assert "Traceback" not in res.output


def test_cli_unwritable_out_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, ["assay", "intravenous", "--cells", "100", "--observe", "1", "--out", str(blocker / "sub")])
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("error: cannot write results")
    assert "Traceback" not in res.output


def test_cli_bad_input_in_a_real_process_has_no_traceback():
    proc = subprocess.run([sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()",
                           "assay", "intraportal", "--cells", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
