"""Calibration (issue 12, part 3): ABC-SMC with pyabc on a tiny problem, resuming, and every bad
configuration the issue names. Tiny settings (one parameter, 6 particles, 1,500 patients per
simulation, one core so the sampler is deterministic); the shipped configuration only loads here
(its full run is reported in the README)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from seedsoil.interfaces.calibrate import BandDistance, CalibrationError, TargetModel, run_calibration
from seedsoil.scenario.calibration import BUILTIN_CALIBRATIONS, calibration_from_dict, load_calibration
from seedsoil.scenario.load import ScenarioError

ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
TARGETS = ["sites.luminal_a.bone", "sites.her2.bone", "sites.triple_negative.bone"]


def _config(**changes) -> dict:
    base = {"name": "tiny", "patients": 1500, "abc": {"particles": 6, "generations": 2},
            "parameters": {"organ.bone.soil_fit": {"low": 10.0, "high": 40.0, "scale": "log"}},
            "targets": {"ids": TARGETS}}
    base.update(changes)
    return base


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal")
    cal = calibration_from_dict(_config(), "tiny")
    return cal, out, run_calibration(cal, out, workers=1)


def test_posterior_lies_in_the_prior_and_fits_better(tiny):
    cal, _, r = tiny
    x = r.posterior["organ.bone.soil_fit"]
    assert len(r.posterior) == 6 and ((x >= 10.0) & (x <= 40.0)).all()
    assert np.isclose(r.posterior["weight"].sum(), 1.0)
    row = r.summary_table.iloc[0]
    assert row.posterior_q2_5 <= row.posterior_median <= row.posterior_q97_5
    model, dist = TargetModel(cal), BandDistance(cal)
    observed = {t.target_id: t.published for t in cal.targets}
    # the fit beats both ends of the prior (the defaults are themselves fitted, so no test against them)
    fitted = dist(model.values({"organ.bone.soil_fit": float(row.posterior_median)}), observed)
    assert fitted < min(dist(model.values({"organ.bone.soil_fit": v}), observed) for v in (10.0, 40.0))
    assert r.summary["generations_done"] == 2 and len(r.summary["epsilons"]) == 2
    assert r.summary["epsilons"][1] <= r.summary["epsilons"][0]


def test_files_and_a_runnable_fitted_scenario(tiny, tmp_path):
    from seedsoil.scenario import load_scenario

    _, _, r = tiny
    names = sorted(p.name for p in r.save(tmp_path))
    assert names == ["calibration.json", "fit.csv", "fitted_scenario.toml", "posterior.csv", "posterior.png",
                     "posterior_summary.csv"]
    sc, p = load_scenario(str(tmp_path / "fitted_scenario.toml"))
    assert np.isclose(p["organ.bone.soil_fit"], r.summary_table.iloc[0].posterior_median, rtol=1e-5)
    assert list(r.fit["target_id"]) == TARGETS


def test_resume_adds_generations_and_refuses_other_settings(tiny):
    _, out, _ = tiny
    with pytest.raises(CalibrationError, match="already holds a calibration"):
        run_calibration(calibration_from_dict(_config(), "tiny"), out)
    with pytest.raises(CalibrationError, match="other settings"):
        run_calibration(calibration_from_dict(_config(patients=2000), "tiny"), out, resume=True)
    more = calibration_from_dict(_config(abc={"particles": 6, "generations": 3}), "tiny")
    r = run_calibration(more, out, resume=True)
    assert r.summary["generations_done"] == 3 and r.summary["resumed"]


def test_bad_configurations_name_the_key():
    cases = [
        (_config(parameters={"organ.bone.soil_fitt": {"low": 1.0, "high": 2.0}}), "did you mean organ.bone.soil_fit"),
        (_config(parameters={"organ.bone.soil_fit": {"low": 30.0, "high": 20.0}}), "prior range is empty"),
        (_config(parameters={"organ.bone.soil_fit": {"low": 1.0, "high": 80.0}}), "allowed range \\[0, 50\\]"),
        (_config(parameters={"organ.bone.soil_fit": {"low": 0.0, "high": 8.0, "scale": "log"}}), "needs low above 0"),
        (_config(parameters={"nodes.count": {"low": 10.0, "high": 30.0}}), "whole number"),
        (_config(parameters={}), "parameters"),
        (_config(abc={"particles": 0}), "abc.particles = 0"),
        (_config(targets={"ids": ["sites.nowhere"]}), "unknown target"),
        (_config(targets={"ids": ["survival.kennecke.luminal_a"]}), "reads the runs 1990"),
        (_config(targets={"ids": ["clinical.late_metastases_er_positive"]}), "one-sided tolerance"),
        (_config(targets={"ids": TARGETS + TARGETS[:1]}), "named twice"),
        (_config(bogus=1), "unknown key"),
    ]
    for data, message in cases:
        with pytest.raises(ScenarioError, match=message):
            calibration_from_dict(data, "bad.toml")


def test_built_in_calibration_loads():
    assert BUILTIN_CALIBRATIONS == ("site_soils",)
    cal = load_calibration("site_soils")
    assert len(cal.targets) == 12 and len(cal.names) == 3


def test_command_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[parameters]\n"organ.bone.soil_fit" = {low = 30.0, high = 20.0}\n'
                   '[targets]\nids = ["sites.her2.bone"]\n')
    res = subprocess.run([*ENTRY, "calibrate", str(bad), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "prior range is empty" in lines[0]
    assert not (tmp_path / "o").exists()
