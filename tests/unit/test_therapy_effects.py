"""Therapy effects and survival by era (issue 9 part 5): the computing functions of
seedsoil.analysis.therapy_effects and the targets built on them, on small synthetic tables whose
answer is known analytically (constant or piecewise-constant hazards give a known rate ratio; a
Cox fit on data drawn with known hazard ratios recovers them), plus the target table's run
declarations and the packaged reference data they cite.

Tolerances of the statistical checks are stated where they are made (a few standard errors of
the estimate at the stated sample size; every draw has a fixed seed, so the checks are exact
reruns, not flaky).
"""

from __future__ import annotations

import csv
import inspect
import math
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seedsoil.analysis import targets as T
from seedsoil.analysis import therapy_effects as TE
from seedsoil.analysis.survival import DAYS_PER_YEAR
from seedsoil.clinic.staging import N_CATEGORIES
from seedsoil.scenario import SUBTYPES, Treatment

Y = DAYS_PER_YEAR
FOLLOW_UP_YEARS = 10.0
REFERENCE = files("seedsoil") / "reference" / "therapy_effects.csv"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "therapy_effects.csv"


# ----- synthetic cohorts -----------------------------------------------------------------------

def piecewise_exponential(e: np.ndarray, pieces: list[tuple[float, float, float]]) -> np.ndarray:
    """Event times (years) for unit-exponential draws ``e`` under a piecewise-constant hazard:
    ``pieces`` = (start, stop, rate per year), contiguous from 0; inf beyond the last piece."""
    t = np.full(len(e), np.inf)
    left = e.copy()
    for start, stop, rate in pieces:
        span = (stop - start) * rate
        hit = np.isinf(t) & (left <= span)
        t[hit] = start + left[hit] / rate
        left = np.where(np.isinf(t), left - span, left)
    return t


def arm(e: np.ndarray, pieces, *, death: np.ndarray, kinds: np.ndarray, extra: dict | None = None) -> pd.DataFrame:
    """One trial arm: recurrence after ``pieces`` hazards (kind local/regional/distant per patient),
    death at ``death`` years, 10 years of follow-up; the schema columns the targets read."""
    n = len(e)
    t = piecewise_exponential(e, pieces)
    end = np.minimum(death, FOLLOW_UP_YEARS)
    seen = t <= end
    p = pd.DataFrame({
        "patient_id": np.arange(n, dtype=np.int64), "subtype": np.array(SUBTYPES)[np.arange(n) % 4],
        "M": "M0", "os_days": end * Y, "os_event": death < FOLLOW_UP_YEARS,
    })
    for kind, col in (("local", "local_recurrence_day"), ("regional", "regional_recurrence_day"),
                      ("distant", "distant_metastasis_day")):
        p[col] = np.where(seen & (kinds == kind), t * Y, np.nan)
    p["first_metastasis_sites"] = np.where(np.isfinite(p["distant_metastasis_day"]), "bone", "")
    for k, v in (extra or {}).items():
        p[k] = v
    return p


def paired_trial(n: int, control, treated, seed: int, death_rate: float = 0.02, kinds=("local", "regional", "distant"),
                 extra: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(treated, control) arms of the same patients: the same unit-exponential draw, death and
    recurrence kind in both (paired, like two runs with one seed), hazards ``treated``/``control``."""
    rng = np.random.default_rng(seed)
    e = rng.exponential(1.0, n)
    death = rng.exponential(1.0 / death_rate, n)
    kind = rng.choice(kinds, n)
    return (arm(e, treated, death=death, kinds=kind, extra=extra),
            arm(e, control, death=death, kinds=kind, extra=extra))


# ----- times to events -------------------------------------------------------------------------

def test_first_recurrence_is_the_earliest_of_local_regional_distant():
    p = pd.DataFrame({"local_recurrence_day": [5.0, np.nan, np.nan, 30.0],
                      "regional_recurrence_day": [3.0, np.nan, 7.0, np.nan],
                      "distant_metastasis_day": [9.0, np.nan, np.nan, 0.0]})
    got = TE.first_recurrence_day(p).to_numpy()
    assert got[0] == 3.0 and math.isnan(got[1]) and got[2] == 7.0 and got[3] == 0.0


def test_event_times_by_endpoint():
    p = pd.DataFrame({
        "os_days": [1000.0, 1000.0, 1000.0, 500.0, 800.0],
        "local_recurrence_day": [100.0, np.nan, np.nan, np.nan, np.nan],
        "regional_recurrence_day": [np.nan, 200.0, np.nan, np.nan, np.nan],
        "distant_metastasis_day": [300.0, 400.0, 600.0, np.nan, 900.0],
        "first_metastasis_sites": ["bone;liver", "lung", "bone", "", "bone"],
    })
    rec = TE.event_times(p, "recurrence")
    assert rec["days"].tolist() == [100.0, 200.0, 600.0, 500.0, 800.0]
    assert rec["event"].tolist() == [True, True, True, False, False]  # last: metastasis after death/censoring
    dist = TE.event_times(p, "distant")
    assert dist["days"].tolist() == [300.0, 400.0, 600.0, 500.0, 800.0]
    bone = TE.event_times(p, "bone")  # a lung-only first metastasis ends the time at risk without an event
    assert bone["days"].tolist() == [300.0, 400.0, 600.0, 500.0, 800.0]
    assert bone["event"].tolist() == [True, False, True, False, False]
    reg = TE.event_times(p, "regional")
    assert reg["event"].tolist() == [False, True, False, False, False]
    with pytest.raises(ValueError, match="unknown endpoint"):
        TE.event_times(p, "contralateral")
    with pytest.raises(ValueError, match="os_days"):
        TE.event_times(p.assign(os_days=[np.nan, 1, 1, 1, 1]))
    with pytest.raises(KeyError, match="distant_metastasis_day"):
        TE.event_times(p.drop(columns="distant_metastasis_day"), "distant")


def test_exposure_counts_person_years_and_events_in_the_interval():
    times = pd.DataFrame({"days": [2 * Y, 7 * Y, 10 * Y], "event": [True, True, False]})
    first = TE.exposure(times, 0, 5)
    assert first["person_years"].tolist() == pytest.approx([2.0, 5.0, 5.0])
    assert first["events"].tolist() == [1, 0, 0]
    later = TE.exposure(times, 5, 10)
    assert later["person_years"].tolist() == pytest.approx([0.0, 2.0, 5.0])
    assert later["events"].tolist() == [0, 1, 0]
    assert TE.event_rate(first) == pytest.approx(1 / 12)
    assert TE.rate_ratio(later, first) == pytest.approx((1 / 7) / (1 / 12))
    assert math.isnan(TE.rate_ratio(first, first.assign(events=0)))
    with pytest.raises(ValueError, match="interval"):
        TE.exposure(times, 5, 5)


# ----- rate ratios of paired arms --------------------------------------------------------------

N_TRIAL = 20_000
RR_REL_TOL = 0.06
"""About 4 standard errors of the log rate ratio at 20,000 patients a arm and a few thousand events."""


def test_constant_hazards_give_their_ratio():
    treated, control = paired_trial(N_TRIAL, control=[(0, 10, 0.06)], treated=[(0, 10, 0.03)], seed=11)
    r = TE.paired_rate_ratio(treated, control, reps=50, rng=np.random.default_rng(1))
    assert r["value"] == pytest.approx(0.5, rel=RR_REL_TOL)
    assert r["ci_low"] < r["value"] < r["ci_high"]
    assert r["ci_low"] < 0.5 < r["ci_high"]
    assert r["n"] == N_TRIAL and r["events_control"] > r["events_treated"] > 1000


def test_piecewise_hazards_give_the_ratio_of_each_interval():
    """EBCTCG-like: hazard ratio 0.53 in years 0-4 and 0.68 in years 5-9."""
    control = [(0, 5, 0.05), (5, 10, 0.03)]
    treated = [(0, 5, 0.05 * 0.53), (5, 10, 0.03 * 0.68)]
    tr, co = paired_trial(N_TRIAL, control, treated, seed=12)
    assert TE.paired_rate_ratio(tr, co, start_years=0, stop_years=5)["value"] == pytest.approx(0.53, rel=RR_REL_TOL)
    later = TE.paired_rate_ratio(tr, co, start_years=5, stop_years=10)["value"]
    assert later == pytest.approx(0.68, rel=2 * RR_REL_TOL)  # fewer events after 5 years: twice the tolerance


def test_subgroup_and_endpoint_select_what_they_say():
    """Only postmenopausal patients benefit, and only against bone: the bone rate ratio of the
    postmenopausal is the hazard ratio, that of the premenopausal 1."""
    n = N_TRIAL
    meno = np.where(np.arange(n) % 2 == 0, "post", "pre")
    rng = np.random.default_rng(13)
    e, death = rng.exponential(1.0, n), rng.exponential(50.0, n)
    kinds = np.full(n, "distant")
    control = arm(e, [(0, 10, 0.05)], death=death, kinds=kinds, extra={"menopausal": meno})
    post = meno == "post"
    t_treated = np.where(post, piecewise_exponential(e, [(0, 10, 0.05 * 0.7)]),
                         piecewise_exponential(e, [(0, 10, 0.05)]))
    treated = control.copy()
    end = control["os_days"].to_numpy() / Y
    treated["distant_metastasis_day"] = np.where(t_treated <= end, t_treated * Y, np.nan)
    for frame in (treated, control):
        frame["first_metastasis_sites"] = np.where(np.isfinite(frame["distant_metastasis_day"]), "bone", "")
    is_post = lambda p: p["menopausal"] == "post"  # noqa: E731
    is_pre = lambda p: p["menopausal"] == "pre"  # noqa: E731
    assert TE.paired_rate_ratio(treated, control, endpoint="bone", subgroup=is_post)["value"] == pytest.approx(
        0.7, rel=RR_REL_TOL)
    pre = TE.paired_rate_ratio(treated, control, endpoint="bone", subgroup=is_pre)
    assert pre["value"] == pytest.approx(1.0, abs=1e-12) and pre["n"] == n // 2


def test_unpaired_runs_are_refused():
    tr, co = paired_trial(100, [(0, 10, 0.05)], [(0, 10, 0.05)], seed=3)
    with pytest.raises(ValueError, match="not paired"):
        TE.paired_arms(tr.iloc[:50], co)
    with pytest.raises(ValueError, match="subtype"):
        TE.paired_arms(tr, co.assign(subtype="her2"))
    a, b = TE.paired_arms(tr.iloc[::-1], co)  # order does not matter, ids do
    assert a["patient_id"].tolist() == b["patient_id"].tolist() == list(range(100))


# ----- Kaplan-Meier risks and medians ----------------------------------------------------------

def test_cumulative_incidence_without_censoring_is_the_share():
    times = pd.DataFrame({"days": [1 * Y, 2 * Y, 3 * Y, 20 * Y], "event": [True, True, False, False]})
    assert TE.cumulative_incidence(times.iloc[[0, 1, 3]], 10) == pytest.approx(2 / 3)
    # censored at 3 y: KM 1 - (3/4)(2/3) = 1/2 by 10 years
    assert TE.cumulative_incidence(times, 10) == pytest.approx(0.5)
    assert math.isnan(TE.cumulative_incidence(times.iloc[:0], 10))


def test_cumulative_incidence_of_a_constant_hazard():
    """Any first recurrence at 0.04 per year, death censoring at 0.02 per year: 1 - exp(-0.4) by 10 years."""
    tr, _ = paired_trial(N_TRIAL, [(0, 10, 0.04)], [(0, 10, 0.04)], seed=14)
    risk = TE.cumulative_incidence(TE.event_times(tr), 10.0)
    assert risk == pytest.approx(1 - math.exp(-0.4), abs=0.01)  # about 3 binomial standard errors


def test_receptor_groups_and_median_from_metastasis():
    p = pd.DataFrame({
        "er": [True, True, False, False, True, False, True],
        "pr": [False, True, False, False, False, True, False],
        "her2": [False, False, True, False, True, False, False],
        "distant_metastasis_day": [0.0, 100.0, 0.0, 50.0, 10.0, np.nan, 0.0],
        "os_days": [0.0, 0.0, 0.0, 0.0, 0.0, 3000.0, 0.0],
        "os_event": [True, True, True, True, False, False, True],
    })
    months = TE.DAYS_PER_MONTH
    # survival after metastasis: HR+/HER2-: 10, 20, 30 months; HER2+: 6, 12 (censored); TN: 3
    p["os_days"] = p["distant_metastasis_day"].fillna(0) + np.array([10, 20, 6, 3, 12, 0, 30]) * months
    assert TE.receptor_group(p).tolist() == ["hr_positive_her2_negative", "hr_positive_her2_negative",
                                             "her2_positive", "triple_negative", "her2_positive",
                                             "hr_positive_her2_negative", "hr_positive_her2_negative"]
    med = TE.median_months_by_receptor_group(p).set_index("receptor_group")
    assert med.loc["hr_positive_her2_negative", "median_months"] == pytest.approx(20.0)
    assert med.loc["hr_positive_her2_negative", "n"] == 3  # the patient without metastasis is left out
    assert med.loc["her2_positive", "median_months"] == pytest.approx(6.0)  # S falls to 0.5 at 6 months
    assert med.loc["triple_negative", "median_months"] == pytest.approx(3.0)
    assert list(med.index) == list(TE.RECEPTOR_GROUPS)


# ----- clinic shares ---------------------------------------------------------------------------

def test_early_deaths_and_sentinel_negative():
    p = pd.DataFrame({"M": ["M1", "M1", "M1", "M0"], "os_days": [10.0, 30.0, 400.0, 5.0],
                      "os_event": [True, True, True, True]})
    assert TE.early_deaths(p) == (2, 3)  # day 30 counts; the M0 death does not
    q = pd.DataFrame({"M": ["M0", "M0", "M0", "M0", "M1"], "pN": ["pN0", "pN0(i+)", "pN0", "pN1mi", "pN0"],
                      "nodes_examined": [2, 1, 12, 2, 2]})
    assert TE.sentinel_negative(q, 2).tolist() == [True, True, False, False, False]


# ----- the nodal Cox model ---------------------------------------------------------------------

TRUE_HR = {"pN0(i+)": 1.3, "pN1mi": 1.5, "pN1a": 2.0, "pN2a+": 3.5}
COX_REL_TOL = 0.15
"""About 3 standard errors of the smaller groups' log hazard ratios at 8,000 patients."""


def nodal_cohort(n: int = 8000, seed: int = 21) -> pd.DataFrame:
    """M0 patients whose distant-metastasis hazard is 0.03 per year times exp(0.5 log(size/18) +
    grade and subtype effects + log TRUE_HR[pN group]); death at 0.01 per year, 10 years of
    follow-up; 200 M1 patients with day-0 metastases that the model must leave out."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(math.log(18.0), 0.5, n)
    grade = rng.choice([1, 2, 3], n)
    subtype = rng.choice(SUBTYPES, n)
    pn = rng.choice(N_CATEGORIES, n, p=[0.5, 0.1, 0.08, 0.2, 0.08, 0.04])
    lp = (0.5 * np.log(size / 18.0) + 0.3 * (grade == 2) + 0.6 * (grade == 3)
          + pd.Series(subtype).map({"luminal_a": 0.0, "luminal_b": 0.4, "her2": 0.6, "triple_negative": 0.8}).to_numpy()
          + np.log(pd.Series(pn).map(TE.PN_GROUP_OF).map({"pN0": 1.0, **TRUE_HR}).to_numpy()))
    t = rng.exponential(1.0, n) / (0.03 * np.exp(lp))
    death = rng.exponential(100.0, n)
    end = np.minimum(death, FOLLOW_UP_YEARS)
    p = pd.DataFrame({"M": "M0", "tumor_size_mm": size, "grade": grade, "subtype": subtype, "pN": pn,
                      "os_days": end * Y, "distant_metastasis_day": np.where(t <= end, t * Y, np.nan)})
    m1 = p.iloc[:200].assign(M="M1", distant_metastasis_day=0.0)
    return pd.concat([p, m1], ignore_index=True)


def test_nodal_cox_recovers_known_hazard_ratios():
    fit = TE.nodal_cox(nodal_cohort())
    assert (fit["n"] == 8000).all()  # M1 patients left out
    for group, hr in TRUE_HR.items():
        row = fit.loc[TE.PN_TERMS[group]]
        assert row["hazard_ratio"] == pytest.approx(hr, rel=COX_REL_TOL), group
        assert row["ci_low"] < hr < row["ci_high"], group
    assert fit.loc["log_size", "hazard_ratio"] == pytest.approx(math.exp(0.5), rel=COX_REL_TOL)
    assert fit.loc["triple_negative", "hazard_ratio"] == pytest.approx(math.exp(0.8), rel=COX_REL_TOL)


def test_nodal_cox_leaves_out_what_does_not_vary():
    p = nodal_cohort(2000, seed=5)
    p = p[p["pN"] != "pN1mi"]
    fit = TE.nodal_cox(p)
    assert math.isnan(fit.loc["pn1mi", "hazard_ratio"])
    assert np.isfinite(fit.loc["pn1a", "hazard_ratio"])
    with pytest.raises(ValueError, match="positive"):
        TE.nodal_design(p.assign(tumor_size_mm=0.0))
    with pytest.raises(ValueError, match="unknown pN"):
        TE.nodal_design(p.assign(pN="N1"))


# ----- the targets built on these functions ----------------------------------------------------

TARGETS = {t.target_id: t for t in T.load_targets()}


def test_declared_runs_are_valid_names_and_match_the_functions():
    for tid, t in TARGETS.items():
        assert all(r in T.RUNS for r in t.runs), tid
        if t.family == "assay":
            assert t.runs == (), tid
            continue
        n_args = len(inspect.signature(T.COHORT_FUNCTIONS[tid]).parameters)
        assert n_args == len(t.runs) >= 1, (tid, t.runs)
    assert T.DEFAULT_RUN in T.RUNS and T.RUNS[T.DEFAULT_RUN] == {}
    assert set(T.runs_needed(TARGETS.values())) == set(T.RUNS), "a run no target reads"


def test_paired_targets_compare_arms_that_differ_only_in_the_therapy():
    for tid, t in TARGETS.items():
        if len(t.runs) != 2:
            continue
        treated, control = (T.RUNS[r] for r in t.runs)
        differ = {k for k in set(treated) | set(control) if treated.get(k) != control.get(k)}
        assert len(differ - {"endocrine_years"}) == 1, (tid, differ)
        (therapy,) = differ - {"endocrine_years"}
        if therapy == "metastatic_bone_agent":  # a drug against the era's guideline drug
            assert treated[therapy] in ("denosumab", "zoledronic_acid") and therapy not in control, tid
        else:
            assert treated[therapy] is True and control[therapy] is False, tid
        assert treated.get("era", "modern") == control.get("era", "modern")


def test_run_overrides_are_valid_treatment_tables():
    base = Treatment().model_dump()
    for name, overrides in T.RUNS.items():
        assert set(overrides) <= set(base), name
        Treatment.model_validate({**base, **overrides})
        assert T.run_description(name).startswith(f"{name}: ")
    assert T.run_description("1990_endocrine") == "1990_endocrine: era=1990, endocrine=true, endocrine_years=5"


def test_variant_scenarios_carry_the_overrides():
    from seedsoil.interfaces.validation import variant_scenario

    assert variant_scenario("modern").treatment == Treatment()
    sc = variant_scenario("1990_bcs_no_radiotherapy")
    assert (sc.treatment.era, sc.treatment.surgery, sc.treatment.radiotherapy) == ("1990", "bcs", False)
    assert sc.cohort == variant_scenario("modern").cohort  # same patients


def test_read_targets_rejects_unknown_or_misplaced_runs(tmp_path):
    rows = pd.read_csv(T.TARGETS_FILE, dtype=str, keep_default_na=False)
    cohort_row = rows.index[rows["family"] == "cohort"][0]
    assay_row = rows.index[rows["family"] == "assay"][0]
    cases = {"unknown": (cohort_row, "1990;2030"), "assay": (assay_row, "modern"), "twice": (cohort_row, "1990;1990")}
    for name, (i, runs) in cases.items():
        frame = rows.copy()
        frame.loc[i, "runs"] = runs
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        with pytest.raises(T.TargetTableError, match="run"):
            T.read_targets(path)
    frame = rows.copy()
    frame.loc[cohort_row, "runs"] = ""
    path = tmp_path / "default.csv"
    frame.to_csv(path, index=False)
    assert T.read_targets(path)[cohort_row].runs == (T.DEFAULT_RUN,)


def test_maximum_tolerance():
    t = TARGETS["clinical.de_novo_death_30d"]
    assert t.tolerance_kind == "maximum" and t.acceptance == (-math.inf, 5.0)
    assert t.passes(0.0) and t.passes(5.0) and not t.passes(5.01) and not t.passes(math.nan)
    assert t.band_text == "<= 5%" and t.tolerance_text == "<= 5%" and t.published_text == "<= 5%"


def test_rate_ratio_targets_on_paired_synthetic_arms():
    """Endocrine therapy halving the hazard in ER+ patients only: the ER+ target gives 0.5."""
    n = N_TRIAL
    er = np.arange(n) % 5 != 0
    extra = {"er": er}
    tr, co = paired_trial(n, [(0, 10, 0.05)], [(0, 10, 0.025)], seed=31, extra=extra)
    recurrence = list(TE.RECURRENCE_DAY_COLUMNS)
    tr.loc[~er, recurrence] = co.loc[~er, recurrence]  # no effect in ER- patients
    est = T.COHORT_FUNCTIONS["therapy.endocrine.rr_years_0_4"](T.Cohort(tr, boot=30), T.Cohort(co, boot=30))
    assert est.value == pytest.approx(0.5, rel=RR_REL_TOL)
    assert est.n == int(er.sum()) and est.low < est.value < est.high
    assert est.interval == "paired bootstrap (30)"
    # the same cohort standing for both arms: no effect
    same = T.evaluate([TARGETS["therapy.chemotherapy.rr"]], T.Cohort(co, boot=0))
    assert same["simulated"].iloc[0] == pytest.approx(1.0)


def test_radiotherapy_targets_on_synthetic_arms():
    """Any first recurrence at 0.043 vs 0.021 per year: 10-year risks 1 - exp(-10 rate) with death
    censoring, and their difference."""
    extra = {"surgery": "bcs"}
    tr, co = paired_trial(N_TRIAL, [(0, 10, 0.043)], [(0, 10, 0.021)], seed=32, extra=extra)
    without = T.COHORT_FUNCTIONS["therapy.radiotherapy.recurrence_10y_without"](T.Cohort(co, boot=20))
    with_rt = T.COHORT_FUNCTIONS["therapy.radiotherapy.recurrence_10y_with"](T.Cohort(tr, boot=20))
    assert without.value == pytest.approx(100 * (1 - math.exp(-0.43)), abs=1.0)
    assert with_rt.value == pytest.approx(100 * (1 - math.exp(-0.21)), abs=1.0)
    red = T.COHORT_FUNCTIONS["therapy.radiotherapy.reduction_10y"](T.Cohort(tr, boot=20), T.Cohort(co, boot=20))
    assert red.value == pytest.approx(without.value - with_rt.value)
    assert red.low < red.value < red.high


def test_single_run_targets_on_hand_built_tables():
    p = pd.DataFrame({
        "patient_id": np.arange(8), "M": ["M1", "M1", "M1", "M1", "M0", "M0", "M0", "M0"],
        "pN": ["pN0", "pN1a", "pN1a", "pN1a", "pN0(i+)", "pN1mi", "pN1mi", "pN2a"],
        "nodes_examined": [2, 12, 12, 12, 2, 2, 2, 12],
        "os_days": [20.0, 3000, 3000, 3000, 3652.5, 3652.5, 3652.5, 3652.5],
        "os_event": [True, True, True, True, False, False, False, False],
        "regional_recurrence_day": [np.nan, np.nan, np.nan, np.nan, 400.0, np.nan, np.nan, np.nan],
    })
    c = T.Cohort(p, boot=10, sentinel_count=2)
    death = T.COHORT_FUNCTIONS["clinical.de_novo_death_30d"](c)
    assert (death.value, death.n) == (25.0, 4)
    itc = T.COHORT_FUNCTIONS["clinical.pn0_itc_per_pn1a"](c)
    assert itc.value == pytest.approx(1 / 3) and itc.n == 4 and itc.low < itc.value < itc.high
    assert T.COHORT_FUNCTIONS["clinical.pn1mi_per_pn1a"](c).value == pytest.approx(2 / 3)
    sentinel = T.COHORT_FUNCTIONS["clinical.sentinel_negative_regional_10y"](c)
    assert sentinel.n == 1 and sentinel.value == pytest.approx(100.0)  # the one pN0(i+) M0 patient


def test_luminal_ratio_and_esme_targets():
    y = DAYS_PER_YEAR
    rows = [  # subtype, er, pr, her2, M, relapse year, years from relapse to death
        ("luminal_a", True, True, False, "M0", 1.0, 2.2), ("luminal_a", True, True, False, "M0", 2.0, 2.2),
        ("luminal_b", True, False, False, "M0", 1.0, 1.6), ("luminal_b", True, False, False, "M0", 3.0, 1.6),
        ("luminal_a", True, True, False, "M1", 0.0, 0.1),  # de novo: not in Kennecke's relapse population
    ]
    p = pd.DataFrame(rows, columns=["subtype", "er", "pr", "her2", "M", "rel", "after"])
    p["dmfs_days"] = p["distant_metastasis_day"] = p["rel"] * y
    p["dmfs_event"], p["metastasis_sites"], p["os_event"] = True, "bone", True
    p["os_days"] = (p["rel"] + p["after"]) * y
    c = T.Cohort(p, boot=20)
    ratio = T.COHORT_FUNCTIONS["survival.kennecke.luminal_a_over_b"](c)
    assert ratio.value == pytest.approx(2.2 / 1.6) and ratio.n == 4
    assert TARGETS["survival.kennecke.luminal_a_over_b"].passes(ratio.value)
    esme = T.COHORT_FUNCTIONS["survival.esme.hr_positive_her2_negative"](c)
    assert esme.n == 5  # ESME counts de novo and relapsed metastatic patients
    assert esme.value == pytest.approx(1.6 * 12)  # KM median of 0.1, 1.6, 1.6, 2.2, 2.2 years


# ----- the reference data the targets cite -----------------------------------------------------

PUBLISHED_IN_REFERENCE = {
    "therapy.endocrine.rr_years_0_4": ("tamoxifen5y_vs_none_ERpos", "recurrence_RR_years0-4"),
    "therapy.endocrine.rr_years_5_9": ("tamoxifen5y_vs_none_ERpos", "recurrence_RR_years5-9"),
    "therapy.chemotherapy.rr": ("polychemo_EBCTCG2012", "anthracycline_vs_nil_recurrence_RR"),
    "therapy.trastuzumab.rr": ("trastuzumab_EBCTCG2021", "recurrence_RR"),
    "therapy.bone_agent.postmenopausal_distant_rr": ("bisphosphonate_EBCTCG2015", "postmeno_distant_recurrence_RR"),
    "therapy.bone_agent.postmenopausal_bone_rr": ("bisphosphonate_EBCTCG2015", "postmeno_bone_recurrence_RR"),
    "therapy.radiotherapy.recurrence_10y_without": ("RT_after_BCS_EBCTCG2011", "any_first_recurrence_10y_noRT"),
    "therapy.radiotherapy.recurrence_10y_with": ("RT_after_BCS_EBCTCG2011", "any_first_recurrence_10y_RT"),
    "therapy.radiotherapy.reduction_10y": ("RT_after_BCS_EBCTCG2011", "any_first_recurrence_10y_absolute_reduction"),
    "survival.esme.hr_positive_her2_negative": ("ESME_metastatic_OS", "Deluche_median_OS_HRpos_HER2neg"),
    "survival.esme.her2_positive": ("ESME_metastatic_OS", "Deluche_median_OS_HER2pos"),
    "survival.esme.triple_negative": ("ESME_metastatic_OS", "Deluche_median_OS_TN"),
}
"""Target -> (group, quantity) of its published value in seedsoil/reference/therapy_effects.csv."""
CI_IN_REFERENCE = {
    "therapy.radiotherapy.reduction_10y": ("RT_after_BCS_EBCTCG2011", "any_first_recurrence_10y_absolute_reduction"),
}
"""Targets whose band is the published 95% CI (rows <quantity>_ci_low / _ci_high)."""


def _reference_rows() -> list[dict[str, str]]:
    assert REFERENCE.is_file(), "therapy_effects.csv missing from the package (src/seedsoil/reference/)"
    with REFERENCE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_reference_copy_ships_with_sources():
    rows = _reference_rows()
    assert rows and all(r["source"].strip() for r in rows)
    assert {"group", "quantity", "value", "unit", "source", "confidence"} <= set(rows[0])


def test_published_values_come_from_the_reference_copy():
    rows = {(r["group"], r["quantity"]): r["value"] for r in _reference_rows()}
    for tid, key in PUBLISHED_IN_REFERENCE.items():
        assert TARGETS[tid].published == pytest.approx(float(rows[key])), tid
        assert "therapy_effects.csv" in TARGETS[tid].source, tid
    for tid, (group, quantity) in CI_IN_REFERENCE.items():
        lo, hi = float(rows[(group, f"{quantity}_ci_low")]), float(rows[(group, f"{quantity}_ci_high")])
        assert TARGETS[tid].acceptance == pytest.approx((lo, hi)), tid


def test_reference_copy_equals_the_shared_reference():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent in this checkout: the packaged copy cannot be compared with it")
    assert SHARED.read_bytes() == REFERENCE.read_bytes()
