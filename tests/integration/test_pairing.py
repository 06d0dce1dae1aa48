"""Arms of a comparison hold the same patients: what happens after surgery draws from its own
streams, so switching adjuvant endocrine therapy off leaves every patient's covariates, primary,
nodes and pre-surgical seeds exactly as they were (issue 7; before the batch engine about 2% of
patients changed pN)."""

from __future__ import annotations

import numpy as np
import pytest

import seedsoil
from seedsoil.biology.organs import OrganTable
from seedsoil.clinic import Clinic
from seedsoil.engine import get_engine
from seedsoil.engine.history import FUNNEL_STAGES
from seedsoil.scenario import load_scenario, scenario_from_dict

SEED = 11
PATIENTS = 3000


def _arm(endocrine_years: float):
    sc, _ = load_scenario("default")
    data = sc.model_dump(mode="python")
    data["treatment"] = {**data["treatment"], "endocrine_years": endocrine_years}
    return scenario_from_dict(data, f"<endocrine {endocrine_years} y>")


@pytest.fixture(scope="module")
def arms():
    return {years: seedsoil.simulate(*_arm(years)[:1], params=_arm(years)[1], patients=PATIENTS, seed=SEED,
                                     workers=1).patients for years in (5.0, 0.0)}


def test_patients_before_surgery_are_the_same_in_both_arms(arms):
    on, off = arms[5.0], arms[0.0]
    for col in ("subtype", "er", "her2", "tumor_size_mm", "age_at_diagnosis", "pT", "pN", "positive_nodes", "M",
                "stage", "ctc_7_5ml", "dtc_bone_marrow"):
        np.testing.assert_array_equal(on[col].to_numpy(), off[col].to_numpy(), err_msg=col)


def test_therapy_changes_what_comes_after_surgery(arms):
    """The arms do differ after surgery (so the test above is not vacuous): fewer ER+ relapses on therapy."""
    on, off = arms[5.0], arms[0.0]
    er = on["er"].to_numpy()
    assert (on["n_colonies"].to_numpy() != off["n_colonies"].to_numpy()).any()
    assert on["dmfs_event"][er].sum() < off["dmfs_event"][er].sum()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_pre_surgical_colonies_are_identical(engine):
    """Colony founders up to surgery and nodal deposits match draw for draw in both arms."""
    out = {}
    for years in (5.0, 0.0):
        sc, p = _arm(years)
        rows = np.arange(1024 if engine == "fast" else 30)
        if engine == "reference":
            data = sc.model_dump(mode="python")
            data["parameters"] = {**data["parameters"], "dissemination.human_shedding_scale": 1e-6, "tmem.log_sd": 0.1}
            sc, p = scenario_from_dict(data, "<light>")
        eng = get_engine(engine)(sc, p)
        h = eng.simulate_rows(0, SEED, rows)
        clinic = Clinic(p, OrganTable.from_params(p), sc.cohort.follow_up_years, sc.treatment)
        plan = clinic.plan(h, clinic.stage(h))
        out[years] = eng.after_surgery(h, clinic.exposure(h, plan), SEED, 0)
    a, b = out[5.0], out[0.0]
    t_dx = a.primary.diagnosis_day
    pre_a = a.colonies.take(np.flatnonzero(a.colonies.founded <= t_dx[a.colonies.row]))
    pre_b = b.colonies.take(np.flatnonzero(b.colonies.founded <= t_dx[b.colonies.row]))
    for f in ("row", "organ", "clone", "founded", "origin", "luck"):
        np.testing.assert_array_equal(getattr(pre_a, f), getattr(pre_b, f), err_msg=f)
    for f in ("row", "node", "founded"):
        np.testing.assert_array_equal(getattr(a.deposits, f), getattr(b.deposits, f), err_msg=f)
    before = [i for i, name in enumerate(FUNNEL_STAGES) if name != "colonies"]  # colonies include later ones
    np.testing.assert_array_equal(a.funnel[:, before], b.funnel[:, before])
