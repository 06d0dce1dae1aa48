"""Survival, site and funnel summaries on data small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seedsoil.analysis import (
    DAYS_PER_YEAR,
    STAGES,
    km_by_group,
    logrank_by_group,
    median_by_group,
    median_os_after_distant_relapse,
    site_shares_by_subtype,
    site_shares_overall,
    summarise_funnel,
)

EXP_N = 4000
EXP_RATE = 0.002  # per day: median ln 2 / rate, about 346.6 days


def test_km_median_hand_computed():
    # Events at 1..5, one censored at 2.5: S = 4/5 after t=1, 3/5 after 2, then 3/5*1/2 = 0.3 after 3.
    df = pd.DataFrame({"t": [1, 2, 2.5, 3, 4], "e": [True, True, False, True, True], "g": "x"})
    fit = km_by_group(df, "t", "e", "g")["x"]
    assert fit.survival_function_at_times(2.9).iloc[0] == pytest.approx(0.6)
    assert fit.survival_function_at_times(3.0).iloc[0] == pytest.approx(0.3)
    med = median_by_group(df, "t", "e", "g", time_scale=1.0)
    assert med.to_dict("records") == [{"g": "x", "n": 5, "events": 4, "median": 3.0}]


def test_km_median_of_exponential_data_matches_theory():
    rng = np.random.default_rng(7)
    t = rng.exponential(1 / EXP_RATE, EXP_N)
    df = pd.DataFrame({"t": t, "e": True, "g": "a"})
    med = median_by_group(df, "t", "e", "g", time_scale=1.0)["median"].iloc[0]
    assert med == pytest.approx(math.log(2) / EXP_RATE, rel=0.05)
    # Without censoring the KM median is the empirical median (lower middle order statistic).
    assert med == pytest.approx(np.sort(t)[EXP_N // 2 - 1])


def test_median_not_reached_is_nan_and_years_scale():
    df = pd.DataFrame({"t": [365.25, 730.5, 1000.0, 1000.0], "e": [True, False, False, False], "g": "a"})
    assert math.isnan(median_by_group(df, "t", "e", "g")["median"].iloc[0])
    df2 = pd.DataFrame({"t": [365.25, 730.5, 1095.75], "e": True, "g": "a"})
    assert median_by_group(df2, "t", "e", "g")["median"].iloc[0] == pytest.approx(2.0)


def test_logrank_separates_different_hazards():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"t": np.r_[rng.exponential(100, 300), rng.exponential(300, 300)],
                       "e": True, "g": ["fast"] * 300 + ["slow"] * 300})
    assert logrank_by_group(df, "t", "e", "g").p_value < 1e-6
    with pytest.raises(ValueError, match="two groups"):
        logrank_by_group(df[df["g"] == "fast"], "t", "e", "g")


def test_median_os_after_distant_relapse_uses_only_metastatic_patients():
    p = pd.DataFrame({
        "subtype": ["her2"] * 4 + ["luminal_a"],
        "dmfs_days": [100.0, 200.0, 300.0, 50.0, 400.0],
        "dmfs_event": [True, True, True, True, False],
        "os_days": [100.0 + DAYS_PER_YEAR, 200.0 + 2 * DAYS_PER_YEAR, 300.0 + 3 * DAYS_PER_YEAR, 50.0, 3652.5],
        "os_event": [True, True, True, True, False],
        # The fourth patient died without metastasis: a DMFS event that is no distant relapse.
        "metastasis_sites": ["bone", "liver", "lung;brain", "", ""],
    })
    out = median_os_after_distant_relapse(p)
    assert list(out.columns) == ["subtype", "n", "median_years"]
    her2 = out.set_index("subtype").loc["her2"]
    assert her2["n"] == 3 and her2["median_years"] == pytest.approx(2.0)
    lum = out.set_index("subtype").loc["luminal_a"]
    assert lum["n"] == 0 and math.isnan(lum["median_years"])


def test_site_shares_hand_made():
    p = pd.DataFrame({
        "subtype": ["luminal_a", "luminal_a", "luminal_a", "her2", "her2"],
        "metastasis_sites": ["bone", "bone;liver", "", "brain", "brain;lung"],
    })
    df = site_shares_by_subtype(p)
    got = {(r.subtype, r.organ): (r.n_relapsed, r.share) for r in df.itertuples()}
    assert got[("luminal_a", "bone")] == (2, 1.0)
    assert got[("luminal_a", "liver")] == (2, 0.5)
    assert got[("luminal_a", "brain")] == (2, 0.0)
    assert got[("her2", "brain")] == (2, 1.0)
    assert got[("her2", "lung")] == (2, 0.5)
    assert list(dict.fromkeys(df["subtype"])) == ["luminal_a", "her2"]  # canonical subtype order
    overall = site_shares_overall(p).set_index("organ")
    assert overall.loc["bone", "share"] == pytest.approx(0.5)
    assert overall.loc["bone", "n_relapsed"] == 4


def test_site_shares_no_relapse_is_empty():
    p = pd.DataFrame({"subtype": ["her2"], "metastasis_sites": [""]})
    assert site_shares_by_subtype(p, include_overall=True).empty


def test_funnel_in_cascade_order_with_fraction_of_shed(synthetic_tables):
    shuffled = synthetic_tables["funnel"].sample(frac=1.0, random_state=1)
    out = summarise_funnel(shuffled)
    assert list(out["stage"]) == list(STAGES)
    by = out.set_index("stage")
    assert by.loc["shed", "count"] == 10**9
    assert by.loc["shed", "fraction_of_shed"] == 1.0
    assert by.loc["arrested", "count"] == 10**5 * (1 + 2 + 3 + 4 + 5)  # per-organ rows are summed
    assert by.loc["entered_blood", "fraction_of_shed"] == pytest.approx(0.1)


def test_funnel_prefers_whole_body_row_and_fills_missing_stages():
    f = pd.DataFrame({"stage": ["arrested", "arrested", "arrested"], "organ": ["all", "lung", "bone"],
                      "count": [10, 6, 4]})
    out = summarise_funnel(f).set_index("stage")
    assert out.loc["arrested", "count"] == 10
    assert out.loc["detected", "count"] == 0
    assert math.isnan(out.loc["arrested", "fraction_of_shed"])


def test_synthetic_cohort_summaries_run(synthetic_tables):
    p = synthetic_tables["patients"]
    fits = km_by_group(p, "os_days", "os_event", "subtype", time_scale=DAYS_PER_YEAR)
    assert set(fits) == set(p["subtype"])
    shares = site_shares_by_subtype(p)
    assert shares["share"].between(0, 1).all()
