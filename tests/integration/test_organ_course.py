"""Organ soils in the patients' course: bone lesions on the vicious-cycle clock, skeletal-related
events and the bone agent that delays them, brain local treatment, symptoms (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.scenario.load import load_scenario, scenario_from_dict

PATIENTS = 6000
SEED = 11


def _run(treatment: dict | None = None, parameters: dict | None = None) -> pd.DataFrame:
    sc, _ = load_scenario("default")
    data = sc.model_dump(mode="python")
    data["treatment"].update(treatment or {})
    data["parameters"] = parameters or {}
    sc, p = scenario_from_dict(data, "<test>")
    return seedsoil.simulate(sc, params=p, patients=PATIENTS, seed=SEED, workers=1).patients


@pytest.fixture(scope="module")
def arms() -> dict[str, pd.DataFrame]:
    return {d: _run({"metastatic_bone_agent": d}) for d in ("none", "zoledronic_acid", "denosumab")}


def _sre_share(p: pd.DataFrame) -> float:
    bone = p[p["first_metastasis_sites"].str.split(";").apply(lambda s: "bone" in s)]
    return float(bone["skeletal_event_day"].notna().mean())


def test_bone_agent_arms_are_the_same_patients_until_relapse(arms):
    a, b = arms["none"], arms["zoledronic_acid"]
    for col in ("tumor_size_mm", "positive_nodes", "distant_metastasis_day", "first_metastasis_sites"):
        pd.testing.assert_series_equal(a[col], b[col])


def test_bone_agent_is_given_only_for_bone_at_first_relapse(arms):
    p = arms["zoledronic_acid"]
    given = p["metastatic_bone_agent"] == "zoledronic_acid"
    bone_first = p["first_metastasis_sites"].str.split(";").apply(lambda s: "bone" in s)
    assert given.any()
    assert (given <= p["distant_metastasis_day"].notna()).all()
    # most recipients have bone among their recorded first sites (known gap: about one in seven
    # do not, because the first line can shrink a lesion found at the work-up below the size at
    # which the records see it)
    assert (given & bone_first).sum() >= 0.8 * given.sum()
    assert (arms["none"]["metastatic_bone_agent"] == "none").all()


def test_bone_agents_delay_skeletal_events(arms):
    """Both agents lower the share of bone relapses with a skeletal-related event (the paired arms
    differ only in the agent); every event belongs to a patient with bone metastases."""
    none, za, den = (_sre_share(arms[k]) for k in ("none", "zoledronic_acid", "denosumab"))
    assert none > 0.2, none
    assert za < none and den < none, (none, za, den)
    for p in arms.values():
        has = p["skeletal_event_day"].notna()
        assert p.loc[has, "metastasis_sites"].str.contains("bone").all()
        assert (p.loc[has, "skeletal_event_day"] >= p.loc[has, "distant_metastasis_day"] - 1e-9).all()
        assert set(p.loc[has, "skeletal_event"]) <= {"radiotherapy_to_bone", "pathological_fracture",
                                                     "spinal_cord_compression"}
        assert (p.loc[~has, "skeletal_event"] == "").all()


def test_more_pthrp_means_more_skeletal_events():
    low = _run(parameters={f"trait.{s}.pthrp": 0.1 for s in ("luminal_a", "luminal_b", "her2", "triple_negative")})
    high = _run(parameters={f"trait.{s}.pthrp": 0.9 for s in ("luminal_a", "luminal_b", "her2", "triple_negative")})
    assert _sre_share(high) > _sre_share(low) + 0.1, (_sre_share(low), _sre_share(high))


NO_PTHRP = {f"trait.{s}.pthrp": 0.0 for s in ("luminal_a", "luminal_b", "her2", "triple_negative")}


def test_without_the_vicious_cycle_or_the_lesion_hazard_there_are_no_skeletal_events():
    """A lesion that makes no PTHrP does not resorb bone in the model; without the lesion hazard
    (bone.sre.lesion_hazard_per_day = 0) nothing else breaks it: no skeletal-related events."""
    p = _run(parameters={**NO_PTHRP, "bone.sre.lesion_hazard_per_day": 0.0})
    assert p["metastasis_sites"].str.contains("bone").sum() > 100
    assert p["skeletal_event_day"].isna().all()


def test_without_the_vicious_cycle_skeletal_events_are_fractures_at_the_lesion_hazard():
    """Without PTHrP no bone mass threshold is crossed, so every event is a fracture from the lesion
    hazard; more hazard, more events; and an event never precedes the bone lesion's detection."""
    low = _run(parameters={**NO_PTHRP, "bone.sre.lesion_hazard_per_day": 0.0002})
    high = _run(parameters={**NO_PTHRP, "bone.sre.lesion_hazard_per_day": 0.002})
    for p in (low, high):
        has = p["skeletal_event_day"].notna()
        assert has.sum() > 20
        assert (p.loc[has, "skeletal_event"] == "pathological_fracture").all()
        assert (p.loc[has, "skeletal_event_day"] >= p.loc[has, "distant_metastasis_day"] - 1e-9).all()
    assert _sre_share(high) > _sre_share(low) + 0.2, (_sre_share(low), _sre_share(high))


def test_brain_local_treatment_prolongs_life_after_brain_relapse():
    def median_after(p):
        brain = p[p["first_metastasis_sites"].str.split(";").apply(lambda s: "brain" in s)]
        return float(np.median(brain["os_days"] - brain["distant_metastasis_day"]))

    treated = _run()
    untreated = _run(parameters={"metastatic.brain_local_log_kill.modern": 0.0})
    assert median_after(treated) > median_after(untreated)


def test_symptoms_follow_the_organs_and_events(arms):
    p = arms["none"]
    bone = p["metastasis_sites"].str.split(";").apply(lambda s: "bone" in s)
    assert p.loc[bone, "symptoms"].str.contains("bone pain").all()
    brain = p["metastasis_sites"].str.split(";").apply(lambda s: "brain" in s)
    assert p.loc[brain, "symptoms"].str.contains("headache").all()
    fx = p["skeletal_event"] == "pathological_fracture"
    assert p.loc[fx, "symptoms"].str.contains("pathological fracture").all()
    assert (p.loc[p["metastasis_sites"] == "", "symptoms"] == "").all()
