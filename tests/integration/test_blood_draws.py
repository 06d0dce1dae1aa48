"""Liquid biopsy (issue 11, part 2): blood draws on chosen days from diagnosis and the CellSearch
baseline at the first distant relapse. Checked: draws change nothing else (they come last in the
clinic's stream); no draw from a patient who is dead or past her follow-up; the draw before
surgery matches the at-diagnosis count in distribution; after surgery the load falls and then
rises with metastases; the count is Poisson around its expectation; the relapse draw exists
exactly for relapsing patients and is high far more often in de novo stage IV (primary in place);
more shedding from metastases raises it in the same relapses; bad draw days are refused with one
line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy.stats import poisson

import seedsoil
from seedsoil.params import default_parameters
from seedsoil.scenario.load import load_scenario, scenario_from_dict

PATIENTS = 6000
SEED = 5
DAYS = (0.0, 30.0, 365.0, 1825.0, 3650.0)
ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]


@pytest.fixture(scope="module")
def runs():
    plain = seedsoil.simulate("default", patients=PATIENTS, seed=SEED, workers=1)
    drawn = seedsoil.simulate("default", patients=PATIENTS, seed=SEED, workers=1, ctc_draw_days=list(DAYS))
    return plain, drawn


def test_draws_change_nothing_else(runs):
    plain, drawn = runs
    assert plain.ctc_draws.empty
    assert_frame_equal(plain.patients, drawn.patients, check_exact=True)
    assert_frame_equal(plain.lesions, drawn.lesions, check_exact=True)


def test_only_living_followed_patients_are_drawn(runs):
    _, r = runs
    d = r.ctc_draws.merge(r.patients[["patient_id", "os_days"]], on="patient_id")
    assert set(d["day"]) == set(DAYS)
    assert (d["day"] < d["os_days"]).all()
    # every patient alive and followed on a draw day has that draw
    for day in DAYS:
        alive = r.patients.loc[r.patients["os_days"] > day, "patient_id"]
        assert set(d.loc[d["day"] == day, "patient_id"]) == set(alive), day
    assert d.groupby("patient_id")["day"].is_monotonic_increasing.all()


def test_draw_before_surgery_matches_the_diagnosis_count(runs):
    """Day 0 is another tube of the same blood: its positivity equals that of ctc_7_5ml within
    2.5 percentage points (6,000 patients, about 4 standard errors of a difference)."""
    _, r = runs
    d0 = r.ctc_draws[r.ctc_draws["day"] == 0].merge(r.patients[["patient_id", "ctc_7_5ml"]], on="patient_id",
                                                    suffixes=("", "_dx"))
    assert abs((d0["ctc_7_5ml"] >= 1).mean() - (d0["ctc_7_5ml_dx"] >= 1).mean()) < 0.025


def test_surgery_lowers_and_metastases_raise_the_load(runs):
    _, r = runs
    d = r.ctc_draws.merge(r.patients[["patient_id", "distant_metastasis_day", "M"]], on="patient_id")
    m0 = d[d["M"] == "M0"]
    before = m0[m0["day"] == 0]["expected_ctc"].mean()
    after = m0[m0["day"] == 30]["expected_ctc"].mean()
    assert after < 0.05 * before  # the primary is gone
    late = m0[m0["day"] > 0]
    with_mets = late[late["day"] >= late["distant_metastasis_day"]]["expected_ctc"]
    free = late[~(late["day"] >= late["distant_metastasis_day"])]["expected_ctc"]
    # a measurable load (> 0.01 expected units per tube) is several times as common once metastases are found
    assert len(with_mets) > 50 and (with_mets > 0.01).mean() > 5 * (free > 0.01).mean()


def test_counts_are_poisson_around_the_expectation(runs):
    """Counts given their expectations: the share of zeros matches sum(exp(-mean)) (a test of the
    sampler, not of the load) within 4 standard errors."""
    _, r = runs
    d = r.ctc_draws
    p0 = poisson.pmf(0, d["expected_ctc"].to_numpy())
    zeros = (d["ctc_7_5ml"] == 0).to_numpy()
    se = np.sqrt((p0 * (1 - p0)).sum())
    assert abs(zeros.sum() - p0.sum()) < 4 * se + 1


def test_relapse_draw_exists_for_relapsing_patients_only(runs):
    _, r = runs
    p = r.patients
    has = p["ctc_at_relapse_7_5ml"].notna()
    assert (has == p["distant_metastasis_day"].notna()).all()
    high = p.loc[has, "ctc_at_relapse_7_5ml"] >= 5
    m1 = p.loc[has, "M"] == "M1"
    assert m1.sum() > 50 and (~m1).sum() > 50
    assert high[m1].mean() > high[~m1].mean() + 0.3


def test_metastases_shedding_more_raise_the_relapse_draw_of_the_same_patients(runs):
    """dissemination.metastasis_blood_fold sets how much metastases put into the blood: at 1 (a
    metastatic cell as a primary one) relapses after surgery almost never show >= 5 CTCs; with the
    default the same relapses (the first distant detection does not depend on it) often do."""
    default = runs[0].patients
    assert default_parameters()["dissemination.metastasis_blood_fold"] > 10
    sc, _ = load_scenario("default")
    data = sc.model_dump(mode="python")
    data["parameters"] = {"dissemination.metastasis_blood_fold": 1.0}
    sc, p = scenario_from_dict(data, "<test>")
    low = seedsoil.simulate(sc, params=p, patients=PATIENTS, seed=SEED, workers=1).patients
    m0 = (default["M"] == "M0") & default["ctc_at_relapse_7_5ml"].notna()
    assert m0.sum() > 50
    pd.testing.assert_series_equal(default.loc[m0, "tumor_size_mm"], low.loc[m0, "tumor_size_mm"])
    high_default = (default.loc[m0, "ctc_at_relapse_7_5ml"] >= 5).mean()
    high_low = (low.loc[m0, "ctc_at_relapse_7_5ml"] >= 5).mean()
    assert high_low < 0.05 and high_default > high_low + 0.15, (high_low, high_default)


def test_bad_draw_days_are_refused(tmp_path):
    with pytest.raises(ValueError, match="negative"):
        seedsoil.simulate("default", patients=10, seed=1, ctc_draw_days=[0, -3])
    with pytest.raises(ValueError, match="not a number"):
        seedsoil.simulate("default", patients=10, seed=1, ctc_draw_days=["x"])
    for text, message in (("0,-5", "is negative"), ("1,abc", "'abc' is not a number of days")):
        out = tmp_path / "out"
        res = subprocess.run([*ENTRY, "run", "-n", "10", "--ctc-draw-days", text, "--out", str(out)],
                             capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        lines = [x for x in res.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: --ctc-draw-days") and message in lines[0]
        assert not out.exists()


def test_scenario_file_sets_draw_days(tmp_path):
    toml = tmp_path / "draws.toml"
    toml.write_text("[measurements]\nctc_draw_days = [365, 0, 365]\n")
    r = seedsoil.simulate(str(toml), patients=50, seed=1, workers=1)
    assert r.scenario.measurements.ctc_draw_days == (0.0, 365.0)
    assert set(r.ctc_draws["day"]) <= {0.0, 365.0} and len(r.ctc_draws) >= 50
    bad = tmp_path / "bad.toml"
    bad.write_text("[measurements]\nctc_draw_days = [-1]\n")
    with pytest.raises(ValueError, match=r"measurements.ctc_draw_days\[0\] = -1"):
        seedsoil.simulate(str(bad), patients=5, seed=1)
    assert isinstance(r.ctc_draws, pd.DataFrame)
