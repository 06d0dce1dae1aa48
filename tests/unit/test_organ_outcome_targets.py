"""Organ-level targets (theme ``organs``): hazard ratios of death after the first distant relapse by
organ at first relapse, and brain metastases in HER2+ metastatic disease.

Hand-built tables whose answer is known by counting, a synthetic cohort whose hazard ratios are
known by construction, the rows of targets.csv (sources, bands, the run they read) and the
computing functions registered for them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seedsoil.analysis import organ_outcomes as OO
from seedsoil.analysis import targets as T

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference"
BY_ID = {t.target_id: t for t in T.load_targets()}
ORGAN_IDS = sorted(i for i in BY_ID if i.startswith("organs."))
HR_IDS = [f"organs.death_hr.{o}" for o in T.DEATH_HR_ORGANS]
HER2_IDS = ["organs.her2.brain_ever", "organs.her2.brain_after_first"]
SRE_IDS = ["organs.sre_median_no_agent", "organs.sre_median_zoledronic_acid",
           "organs.sre_hr_denosumab_vs_zoledronic_acid"]


def patients(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (subtype, her2, M, first sites, all sites, metastasis day, os_days, os_event)."""
    cols = ["subtype", "her2", "M", "first_metastasis_sites", "metastasis_sites", "distant_metastasis_day", "os_days",
            "os_event"]
    return pd.DataFrame(rows, columns=cols)


HAND = patients([
    ("her2", True, "M0", "bone", "bone;brain", 400.0, 900.0, True),          # brain after the first metastasis
    ("her2", True, "M1", "brain;liver", "brain;liver", 0.0, 300.0, True),     # de novo, brain at first
    ("her2", True, "M0", "liver", "liver", 700.0, 2000.0, False),             # no brain
    ("her2", True, "M0", "", "", math.nan, 3000.0, False),                    # no metastasis
    ("triple_negative", False, "M0", "brain", "brain", 500.0, 499.9, True),   # dies on the day of detection
    ("luminal_a", False, "M0", "bone;lung", "bone;lung", 1000.0, 1500.0, True),
])


# ----- the helpers -----------------------------------------------------------------------------

def test_her2_brain_counts_by_hand():
    assert OO.her2_brain_counts(HAND) == (2, 3)                    # 3 HER2+ metastatic, brain in 2
    assert OO.her2_brain_counts(HAND, later_only=True) == (1, 2)   # without brain at first: 2, later brain in 1
    assert OO.her2_brain_counts(HAND.iloc[3:4]) == (0, 0)


def test_first_relapse_design_by_hand():
    d = OO.first_relapse_design(HAND)
    # M0 with a detected distant metastasis: rows 0, 2, 4, 5 (the de novo patient and the one without are left out)
    assert list(d["days"]) == [500.0, 1300.0, 0.0, 500.0]          # os_days a hair below the detection day clips to 0
    assert list(d["event"]) == [True, False, True, True]
    assert list(d["brain"]) == [0.0, 0.0, 1.0, 0.0]                 # first sites only: later brain does not count
    assert list(d["liver"]) == [0.0, 1.0, 0.0, 0.0]
    assert list(d["lung"]) == [0.0, 0.0, 0.0, 1.0]
    assert list(d["bone"]) == [1.0, 0.0, 0.0, 1.0]
    assert list(d["her2"]) == [1.0, 1.0, 0.0, 0.0] and list(d["triple_negative"]) == [0.0, 0.0, 1.0, 0.0]
    assert set(d.columns) == {"days", "event", *OO.COX_ORGANS, *OO.SUBTYPE_TERMS}


def test_missing_column_is_named():
    with pytest.raises(KeyError, match="first_metastasis_sites"):
        OO.her2_brain_counts(HAND.drop(columns="first_metastasis_sites"))


def synthetic_relapses(n: int, hr: dict[str, float], seed: int = 3) -> pd.DataFrame:
    """M0 relapsed patients whose death hazard after relapse is a base rate times ``hr[organ]`` for
    each organ among the first sites (exponential survival, administrative censoring)."""
    rng = np.random.default_rng(seed)
    share = {"liver": 0.3, "lung": 0.3, "brain": 0.15, "bone": 0.5}
    has = {o: rng.random(n) < share[o] for o in OO.COX_ORGANS}
    subtype = rng.choice(["luminal_a", "luminal_b", "her2", "triple_negative"], n)
    rate = np.full(n, 1 / 1000.0) * np.where(subtype == "triple_negative", 2.0, 1.0)
    for o in OO.COX_ORGANS:
        rate = rate * np.where(has[o], hr.get(o, 1.0), 1.0)
    after = rng.exponential(1 / rate)
    follow = rng.uniform(500.0, 3000.0, n)
    first = [";".join(o for o in OO.COX_ORGANS if has[o][i]) or "other" for i in range(n)]
    return pd.DataFrame({"subtype": subtype, "her2": subtype == "her2", "M": "M0", "first_metastasis_sites": first,
                         "metastasis_sites": first, "distant_metastasis_day": 100.0,
                         "os_days": 100.0 + np.minimum(after, follow), "os_event": after <= follow})


def test_cox_recovers_known_hazard_ratios():
    truth = {"liver": 2.0, "lung": 1.3, "brain": 3.0, "bone": 0.8}
    table = OO.first_relapse_cox(synthetic_relapses(20_000, truth))
    for organ, hr in truth.items():
        row = table.loc[organ]
        assert row["hazard_ratio"] == pytest.approx(hr, rel=0.06), organ
        assert row["ci_low"] < hr < row["ci_high"], organ
    assert table["n"].iloc[0] == 20_000


def test_cox_leaves_a_constant_covariate_out():
    p = synthetic_relapses(500, {}).assign(first_metastasis_sites="bone", metastasis_sites="bone")
    table = OO.first_relapse_cox(p)
    assert math.isnan(table.loc["brain", "hazard_ratio"]) and math.isnan(table.loc["bone", "hazard_ratio"])
    assert math.isfinite(table.loc["her2", "hazard_ratio"])


# ----- the targets -----------------------------------------------------------------------------

def test_organ_rows_have_functions_sources_and_the_modern_run():
    assert ORGAN_IDS == sorted(HR_IDS + HER2_IDS + SRE_IDS)
    assert "organs" in T.THEMES and "organs" in T.THEME_TITLES
    for tid in ORGAN_IDS:
        t = BY_ID[tid]
        assert t.family == "cohort" and t.theme == "organs"
        assert tid in T.COHORT_FUNCTIONS
        assert set(t.runs) <= set(T.RUNS)
        if tid not in SRE_IDS:  # the skeletal-event rows read the 1990 run or paired agent arms
            assert t.runs == (T.DEFAULT_RUN,)
        assert t.source.strip() and t.tolerance_basis.strip() and t.population.strip()
        assert t.passes(t.published)


@pytest.mark.parametrize("target_id", HR_IDS)
def test_hazard_ratio_bands_are_ranges_that_fail_near_ten(target_id):
    t = BY_ID[target_id]
    assert t.tolerance_kind == "range" and t.unit == "hazard ratio"
    lo, hi = t.acceptance
    assert 0.5 < lo < t.published < hi < 5.0
    assert not t.passes(10.0) and not t.passes(0.1)


def test_her2_brain_bands():
    for tid in HER2_IDS:
        t = BY_ID[tid]
        assert (t.tolerance_kind, t.tolerance, t.unit) == ("absolute", 10.0, "%")
    assert BY_ID["organs.her2.brain_after_first"].published == pytest.approx(100 * 40 / 96, abs=0.05)
    assert BY_ID["organs.her2.brain_ever"].published == pytest.approx(100 * 52 / 108, abs=0.05)


def test_maurer_value_copied_from_the_shared_reference():
    path = SHARED / "survival_after_metastasis.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent in this checkout: the packaged copy cannot be compared with it")
    ref = pd.read_csv(path).set_index("group")
    value = ref.loc["her2_positive_metastatic", "value"]
    assert BY_ID["organs.her2.brain_after_first"].published == pytest.approx(100 * value)


def test_her2_target_functions_by_hand():
    c = T.Cohort(HAND, boot=0)
    ever = T.COHORT_FUNCTIONS["organs.her2.brain_ever"](c)
    later = T.COHORT_FUNCTIONS["organs.her2.brain_after_first"](c)
    assert (ever.value, ever.n) == (pytest.approx(200 / 3), 3)
    assert (later.value, later.n) == (pytest.approx(50.0), 2)
    assert ever.low <= ever.value <= ever.high and ever.interval == "Wilson"


def test_hazard_ratio_target_functions_read_the_cox_fit():
    p = synthetic_relapses(5_000, {"liver": 2.0, "lung": 1.3, "brain": 3.0})
    c = T.Cohort(p, boot=0)
    table = OO.first_relapse_cox(p)
    for organ in T.DEATH_HR_ORGANS:
        e = T.COHORT_FUNCTIONS[f"organs.death_hr.{organ}"](c)
        assert e.value == pytest.approx(table.loc[organ, "hazard_ratio"])
        assert e.low < e.value < e.high and e.n == 5_000 and e.interval == "Wald (Cox fit)"
    result = T.evaluate([BY_ID[i] for i in HR_IDS], c)
    assert list(result["passed"]) == [True, True, True]  # 2.0, 1.3, 3.0 lie in the liver, lung and brain bands
