"""Global sensitivity (issue 12, part 4): Morris and Sobol from SALib over the main outputs.
Checked: a parameter the outputs cannot depend on (the bone-marrow aspirate size, which only sets
the DTC count) has an effect of exactly zero on every output (every cohort shares the seed); the
bone soil moves the share of relapses in bone more than anything else; every Sobol index lies in
[0, 1] up to its interval; the files and the figure are written; bad settings are one error line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from seedsoil.analysis.headline import OUTPUTS
from seedsoil.interfaces.sensitivity import SensitivityError, factors, run_sensitivity
from seedsoil.scenario import load_scenario

ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
INERT = "marrow.aspirate_cells"
NAMES = ["organ.bone.soil_fit", "dissemination.human_shedding_scale", INERT]


@pytest.fixture(scope="module")
def model():
    return load_scenario("default")


@pytest.fixture(scope="module")
def morris(model):
    return run_sensitivity(*model, method="morris", parameters=NAMES, patients=2500, trajectories=3, workers=2)


def test_an_inert_parameter_has_no_effect(morris):
    inert = morris.indices[morris.indices["parameter"] == INERT]
    assert len(inert) == len(OUTPUTS)
    assert (inert["mu_star"] == 0).all() and (inert["sigma"] == 0).all()


def test_the_bone_soil_leads_the_bone_share(morris):
    bone = morris.indices[morris.indices["output"] == "bone_share_of_relapses"].set_index("parameter")
    assert bone["mu_star"].idxmax() == "organ.bone.soil_fit"
    assert bone.loc["organ.bone.soil_fit", "mu"] > 0  # a richer bone soil means more bone relapses
    shed = morris.indices[(morris.indices["output"] == "de_novo_stage_iv")].set_index("parameter")
    assert shed.loc["dissemination.human_shedding_scale", "mu"] > 0  # more shedding, more stage IV


def test_samples_span_the_ranges(morris, model):
    _, p = model
    s = morris.samples
    assert len(s) == 3 * (len(NAMES) + 1) == morris.summary["cohorts"]
    for f in factors(p, NAMES, 2.0):
        assert s[f.name].min() >= f.low * (1 - 1e-9) and s[f.name].max() <= f.high * (1 + 1e-9)
        assert s[f.name].nunique() > 1


def test_sobol_indices_are_shares(model, tmp_path):
    r = run_sensitivity(*model, method="sobol", parameters=["organ.bone.soil_fit", INERT], patients=1500,
                        samples=4, workers=2)
    assert len(r.samples) == 4 * (2 + 2)
    inert = r.indices[r.indices["parameter"] == INERT]
    assert np.allclose(inert["ST"], 0) and np.allclose(inert["S1"], 0)
    bone = r.indices[(r.indices["parameter"] == "organ.bone.soil_fit") & (r.indices["output"] == "bone_share_of_relapses")]
    assert float(bone["ST"].iloc[0]) > 0.5
    written = r.save(tmp_path)
    assert sorted(x.name for x in written) == ["sensitivity.csv", "sensitivity.json", "sensitivity.png",
                                               "sensitivity_samples.csv"]
    assert (tmp_path / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "sensitivity.json").read_text())["method"] == "sobol"


def test_bad_settings_are_refused(model):
    sc, p = model
    cases = [(dict(parameters=["nope.nothing"]), "'nope.nothing'"), (dict(span=1.0), "span must be"),
             (dict(method="fast99"), "unknown method"), (dict(method="sobol", samples=6), "power of 2"),
             (dict(trajectories=1), "at least 2 trajectories"), (dict(parameters=[]), "at least one"),
             (dict(parameters=["nodes.count"]), "whole number")]
    for kwargs, message in cases:
        with pytest.raises(SensitivityError, match=message):
            run_sensitivity(sc, p, patients=200, **kwargs)


def test_command_errors_are_one_line(tmp_path):
    res = subprocess.run([*ENTRY, "sensitivity", "--parameters", "foo.bar", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert [x for x in res.stderr.splitlines() if x.strip()][-1].startswith("error: 'foo.bar'")
    assert not (tmp_path / "o").exists()
