"""Virtual trials (issue 11, part 3): the built-in trial files, the design (eligibility, allocation
by ratio, staggered accrual), arms that differ only by their change, the statistics (an effective
arm is found, a null arm rejects at about the nominal rate), bad trial files and the command.
Fixed seeds; small designs so the whole file runs in about a minute."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.interfaces.trial import _eligible, allocation, run_trial
from seedsoil.scenario.load import ScenarioError
from seedsoil.scenario.trial import BUILTIN_TRIALS, builtin_trials, load_trial, trial_from_dict


def _spec(**design) -> dict:
    return {"name": "test", "eligibility": {"stages": ["II", "III"]},
            "design": {"patients": 600, "accrual_years": 2.0, "follow_up_years": 4.0, "endpoints": ["dmfs", "os"],
                       **design},
            "arms": [{"name": "guideline"}, {"name": "no adjuvant", "treatment": {"adjuvant": "none"}}]}


def test_every_built_in_trial_loads_with_its_arms():
    assert builtin_trials() == BUILTIN_TRIALS and len(BUILTIN_TRIALS) == 5
    for name in BUILTIN_TRIALS:
        t = load_trial(name)
        assert len(t.arms) == len(t.spec.arms) >= 2
        horizon = t.spec.design.accrual_years + t.spec.design.follow_up_years
        assert all(sc.cohort.follow_up_years == horizon for sc, _ in t.arms)
    tki = load_trial("her2_brain_penetrant_tki")
    assert [sc.treatment.her2_tki for sc, _ in tki.arms] == [False, True]
    assert "brain_mfs" in tki.spec.design.endpoints


def test_allocation_follows_the_ratio_exactly():
    rng = np.random.default_rng(0)
    arm = allocation(1000, (2.0, 1.0), rng)
    assert np.bincount(arm).tolist() == [667, 333]
    arm = allocation(7, (1.0, 1.0, 1.0), rng)
    assert sorted(np.bincount(arm).tolist()) == [2, 2, 3]


@pytest.fixture(scope="module")
def effective():
    return run_trial(trial_from_dict(_spec(), "<test>"), repeats=1, seed=3, workers=1)


def test_an_effective_arm_is_found_and_enrolled_patients_are_eligible(effective):
    """Without adjuvant therapy, stage II-III patients relapse more: HR > 1 on DMFS with p < 0.05."""
    row = effective.table[effective.table["endpoint"] == "dmfs"].iloc[0]
    assert row["hr"] > 1.2 and row["hr_low"] > 1.0 and row["p_logrank"] < 0.05, row.to_dict()
    enrolled = effective.patients
    assert len(enrolled) == 600 and enrolled["arm"].value_counts().tolist() == [300, 300]
    assert enrolled["entry_years"].between(0, 2.0).all()
    # followed from entry to the analysis at accrual + follow-up
    np.testing.assert_allclose(enrolled["followed_years"], 6.0 - enrolled["entry_years"], rtol=1e-12)
    assert (enrolled["dmfs_years"] <= enrolled["followed_years"] + 1e-9).all()
    assert (enrolled["dmfs_years"] <= enrolled["os_years"] + 1e-9).all()
    control = seedsoil.simulate(effective.trial.arms[0][0], params=effective.trial.arms[0][1],
                                patients=int(enrolled["patient_id"].max()) + 1, seed=_seed(3, 0), workers=1).patients
    picked = control.iloc[enrolled["patient_id"]]
    assert _eligible(picked, effective.trial).all()
    assert set(picked["stage"].str.rstrip("ABC")) <= {"II", "III"}


def _seed(seed: int, r: int) -> int:
    from seedsoil.interfaces.trial import _repeat_seed

    return _repeat_seed(seed, r)


def test_same_seed_same_trial(effective):
    again = run_trial(trial_from_dict(_spec(), "<test>"), repeats=1, seed=3, workers=2)
    pd.testing.assert_frame_equal(effective.patients, again.patients)
    assert effective.summary == again.summary


@pytest.mark.slow
def test_a_null_arm_rejects_at_about_the_nominal_rate():
    """Two identical arms: the log-rank test rejects in about 5% of trials (at most 4 of 20:
    P(>= 5 of 20 | 5%) = 0.3%), and the hazard ratios centre on 1."""
    spec = _spec(patients=300, endpoints=["dmfs"])
    spec["arms"][1] = {"name": "same", "treatment": {}}
    res = run_trial(trial_from_dict(spec, "<test>"), repeats=20, seed=7, workers=2)
    power = res.summary["power"]["dmfs"]["same"]
    assert power["trials"] == 20 and power["power"] <= 0.2, power
    assert 0.75 < power["hr_median"] < 1.33


@pytest.mark.parametrize("change, key, words", [
    ({"design": {"ratio": [1, 2, 3]}}, "", "3 weights for 2 arms"),
    ({"design": {"endpoints": ["pfs"]}}, "design.endpoints[0]", "must be"),
    ({"design": {"accrual_years": 20, "follow_up_years": 25}}, "design", "at most 40"),
    ({"design": {"patients": 1}}, "design.patients", "greater than or equal to 2"),
    ({"eligibility": {"stages": ["IV"]}}, "eligibility.stages[0]", "must be"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"arms": [{"name": "a"}]}, "arms", "at least 2"),
])
def test_bad_trial_files_name_the_key(change, key, words):
    spec = _spec()
    for k, v in change.items():
        spec[k] = {**spec[k], **v} if isinstance(v, dict) and isinstance(spec.get(k), dict) else v
    with pytest.raises(ScenarioError) as err:
        trial_from_dict(spec, "trial.toml")
    assert err.value.key == key and words in str(err.value), str(err.value)
    assert str(err.value).startswith("trial.toml")


def test_a_bad_arm_names_the_arm_and_its_key():
    spec = _spec()
    spec["arms"][1] = {"name": "oops", "treatment": {"chemo": True}, "parameters": {"no.such.parameter": 1.0}}
    with pytest.raises(ScenarioError) as err:
        trial_from_dict(spec, "trial.toml")
    text = str(err.value)
    assert "arms[1] (oops)" in text and "treatment.chemo" in text and "no.such.parameter" in text, text


def test_too_narrow_eligibility_is_a_clear_error():
    spec = _spec(patients=50)
    spec["eligibility"] = {"subtypes": ["her2"], "histology": ["ilc"], "menopausal": "pre", "age_max": 30}
    with pytest.raises(ValueError, match="meet the eligibility criteria"):
        run_trial(trial_from_dict(spec, "trial.toml"), seed=1, workers=1)


def test_the_trial_command_writes_the_summary_and_figures(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('name = "cli"\n[design]\npatients = 200\nendpoints = ["os", "bone_mfs"]\n'
                    '[[arms]]\nname = "a"\n[[arms]]\nname = "b"\ntreatment = { chemotherapy = false }\n')
    out = tmp_path / "out"
    entry = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
    cmd = [*entry, "trial", str(path), "--out", str(out), "--repeats", "2", "--workers", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "trial_summary.json").read_text())
    assert summary["repeats"] == 2 and set(summary["power"]) == {"os", "bone_mfs"}
    assert [a["patients"] for a in summary["arms"]] == [100, 100]
    for ep in ("os", "bone_mfs"):
        assert (out / f"km_{ep}.png").stat().st_size > 10_000
    assert len(pd.read_parquet(out / "trial_patients.parquet")) == 200
    bad = subprocess.run([*entry, "trial", str(tmp_path / "missing.toml")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    assert "built-in trials" in bad.stderr
