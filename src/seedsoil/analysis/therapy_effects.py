"""Therapy effects and survival by treatment era, computed from simulated cohorts (issue 9 part 5).

Times in the result tables are days from diagnosis (docs/schema.md); functions here report years
or months where they say so. The recurrence endpoints follow the EBCTCG overviews:

* ``recurrence``: the first local, regional or distant recurrence, whichever comes first
  (``local_recurrence_day``, ``regional_recurrence_day``, ``distant_metastasis_day``);
* ``distant``: the first detected distant metastasis (``distant_metastasis_day``);
* ``bone``: a first distant metastasis with bone among its sites (``first_metastasis_sites``);
  a first distant metastasis elsewhere ends the time at risk without an event;
* ``regional``: a regional (nodal) recurrence (``regional_recurrence_day``).

Time at risk runs from diagnosis until the event, death or the end of follow-up (``os_days``),
whichever comes first: death is censoring, as in the overviews' recurrence rates. A rate ratio is
events per person-year in an interval of years in the treated arm over the same in the control
arm; two runs of one cohort with the same seed are paired (patient i is the same person before
surgery in both), so an interval resamples patients jointly in both arms (see
:func:`paired_arms`).

>>> import pandas as pd
>>> p = pd.DataFrame({"os_days": [3652.5, 3652.5, 1000.0], "local_recurrence_day": [400.0, None, None],
...                   "regional_recurrence_day": [300.0, None, None],
...                   "distant_metastasis_day": [None, 2000.0, None], "first_metastasis_sites": ["", "bone", ""]})
>>> event_times(p).to_dict("list")
{'days': [300.0, 2000.0, 1000.0], 'event': [True, True, False]}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

from seedsoil.analysis.survival import DAYS_PER_YEAR, median_by_group

RECURRENCE_DAY_COLUMNS = ("local_recurrence_day", "regional_recurrence_day", "distant_metastasis_day")
"""The days from diagnosis of each kind of recurrence (NaN: none within follow-up)."""
ENDPOINTS = ("recurrence", "distant", "bone", "regional")
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
RECEPTOR_GROUPS = ("hr_positive_her2_negative", "her2_positive", "triple_negative")
"""Receptor groups as ESME reports them (Deluche et al. 2020): HR+ (ER+ or PR+) and HER2-, HER2+ (any HR), and
triple-negative (ER-, PR-, HER2-)."""
SENTINEL_NEGATIVE_PN = ("pN0", "pN0(i+)")
"""pN categories of a negative sentinel biopsy: isolated tumour cells count as node-negative (AJCC 8th)."""
EARLY_DEATH_DAYS = 30.0
"""'Dying within 30 days of diagnosis' (issue 9 part 4)."""

PN_TERMS: dict[str, str] = {"pN0(i+)": "pn0_itc", "pN1mi": "pn1mi", "pN1a": "pn1a", "pN2a+": "pn2a_plus"}
"""pN group -> Cox covariate name; each against pN0. pN2a+ pools pN2a (4-9 positive nodes) and pN3a (>= 10)."""
PN_GROUP_OF: dict[str, str] = {"pN0": "pN0", "pN0(i+)": "pN0(i+)", "pN1mi": "pN1mi", "pN1a": "pN1a", "pN2a": "pN2a+",
                               "pN3a": "pN2a+"}
"""pN category (seedsoil.clinic.staging.N_CATEGORIES) -> its group in the nodal Cox model."""
SUBTYPE_TERMS = ("luminal_b", "her2", "triple_negative")
"""Subtype dummies of the nodal Cox model, each against luminal A."""
GRADE_TERMS = {2: "grade_2", 3: "grade_3"}
"""Grade dummies of the nodal Cox model, each against grade 1."""


def _check_columns(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; available: {list(df.columns)}")


# ----- times to events ---------------------------------------------------------------------------

def first_recurrence_day(patients: pd.DataFrame) -> pd.Series:
    """Days from diagnosis to the first local, regional or distant recurrence, whichever came
    first; NaN where none did within follow-up."""
    _check_columns(patients, *RECURRENCE_DAY_COLUMNS)
    days = patients[list(RECURRENCE_DAY_COLUMNS)].to_numpy(dtype=float)
    return pd.Series(np.fmin.reduce(days, axis=1), index=patients.index, name="first_recurrence_day")


def has_site(sites: pd.Series, organ: str) -> pd.Series:
    """Whether each ';'-joined site list (``first_metastasis_sites``, ``metastasis_sites``) names ``organ``."""
    return sites.fillna("").astype(str).str.split(";").map(lambda s: organ in s).astype(bool)


def event_times(patients: pd.DataFrame, endpoint: str = "recurrence") -> pd.DataFrame:
    """Per patient, ``days`` from diagnosis until the endpoint's event, death or the end of
    follow-up (``os_days``), whichever came first, and ``event`` (True when the endpoint's event
    ended the time at risk). ``endpoint`` is one of :data:`ENDPOINTS` (module docstring)."""
    _check_columns(patients, "os_days")
    if endpoint == "recurrence":
        day, counts = first_recurrence_day(patients).to_numpy(float), np.ones(len(patients), bool)
    elif endpoint in ("distant", "bone"):
        _check_columns(patients, "distant_metastasis_day")
        day = patients["distant_metastasis_day"].to_numpy(float)
        if endpoint == "bone":
            _check_columns(patients, "first_metastasis_sites")
            counts = has_site(patients["first_metastasis_sites"], "bone").to_numpy()
        else:
            counts = np.ones(len(patients), bool)
    elif endpoint == "regional":
        _check_columns(patients, "regional_recurrence_day")
        day, counts = patients["regional_recurrence_day"].to_numpy(float), np.ones(len(patients), bool)
    else:
        raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")
    end = patients["os_days"].to_numpy(float)
    if np.any(~np.isfinite(end)) or np.any(end < 0):
        raise ValueError("os_days must be finite and non-negative for every patient")
    seen = np.isfinite(day) & (day <= end)
    return pd.DataFrame({"days": np.where(seen, day, end), "event": seen & counts}, index=patients.index)


def exposure(times: pd.DataFrame, start_years: float = 0.0, stop_years: float = math.inf) -> pd.DataFrame:
    """Per patient, ``events`` (0 or 1) and ``person_years`` at risk in the interval
    [``start_years``, ``stop_years``) from diagnosis, from :func:`event_times`."""
    if not 0 <= start_years < stop_years:
        raise ValueError(f"the interval must have 0 <= start < stop, not [{start_years}, {stop_years})")
    t = times["days"].to_numpy(float) / DAYS_PER_YEAR
    person_years = np.clip(np.minimum(t, stop_years) - start_years, 0.0, None)
    events = times["event"].to_numpy(bool) & (t >= start_years) & (t < stop_years)
    return pd.DataFrame({"events": events.astype(np.int64), "person_years": person_years}, index=times.index)


def event_rate(exp: pd.DataFrame) -> float:
    """Events per person-year of an :func:`exposure` table (NaN without person-time)."""
    py = float(exp["person_years"].sum())
    return float(exp["events"].sum()) / py if py > 0 else math.nan


def rate_ratio(treated: pd.DataFrame, control: pd.DataFrame) -> float:
    """Event rate of the treated arm over that of the control arm (two :func:`exposure` tables);
    NaN where the control arm has no event or either arm no person-time."""
    control_rate = event_rate(control)
    return event_rate(treated) / control_rate if control_rate > 0 else math.nan


def paired_arms(treated: pd.DataFrame, control: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two arms' patients tables in one patient order (by ``patient_id``), row i of each the
    same patient. Raises ValueError unless the runs are paired: the same patient ids and, patient
    by patient, the same subtype (what is drawn before surgery)."""
    _check_columns(treated, "patient_id", "subtype")
    _check_columns(control, "patient_id", "subtype")
    a = treated.sort_values("patient_id", kind="stable").reset_index(drop=True)
    b = control.sort_values("patient_id", kind="stable").reset_index(drop=True)
    if len(a) != len(b) or not np.array_equal(a["patient_id"].to_numpy(), b["patient_id"].to_numpy()):
        raise ValueError("the two runs are not paired: they hold different patients (run both with the same "
                         "patients and seed)")
    if not np.array_equal(a["subtype"].to_numpy(), b["subtype"].to_numpy()):
        raise ValueError("the two runs are not paired: patients differ in subtype (run both with the same seed and "
                         "cohort)")
    return a, b


def paired_rate_ratio(treated: pd.DataFrame, control: pd.DataFrame, *, endpoint: str = "recurrence",
                      start_years: float = 0.0, stop_years: float = math.inf,
                      subgroup: Callable[[pd.DataFrame], pd.Series] | None = None, reps: int = 0,
                      rng: np.random.Generator | None = None) -> pd.Series:
    """Rate ratio (treated over control) of ``endpoint`` in [``start_years``, ``stop_years``)
    among the patients ``subgroup`` selects (a function of the treated arm's table returning a
    boolean Series; default all), with the 2.5 and 97.5 percentiles of ``reps`` paired bootstrap
    resamples (patients drawn with replacement, the same draws in both arms). Returns value,
    ci_low, ci_high, n (patients), events_treated, events_control.

    >>> import pandas as pd
    >>> arm = lambda day: pd.DataFrame({"patient_id": [0, 1], "subtype": ["her2"] * 2, "os_days": [3652.5] * 2,
    ...     "local_recurrence_day": [day, None], "regional_recurrence_day": [None] * 2,
    ...     "distant_metastasis_day": [None] * 2})
    >>> round(float(paired_rate_ratio(arm(730.5), arm(365.25))["value"]), 4)  # 1 event in 12 vs 11 person-years
    0.9167
    """
    a, b = paired_arms(treated, control)
    if subgroup is not None:
        sel = np.asarray(subgroup(a), dtype=bool)
        a, b = a[sel].reset_index(drop=True), b[sel].reset_index(drop=True)
    ea = exposure(event_times(a, endpoint), start_years, stop_years)
    eb = exposure(event_times(b, endpoint), start_years, stop_years)
    ev_a, py_a = ea["events"].to_numpy(float), ea["person_years"].to_numpy(float)
    ev_b, py_b = eb["events"].to_numpy(float), eb["person_years"].to_numpy(float)

    def ratio(idx: np.ndarray | None = None) -> float:
        s = slice(None) if idx is None else idx
        pya, pyb, evb = py_a[s].sum(), py_b[s].sum(), ev_b[s].sum()
        if pya <= 0 or pyb <= 0 or evb <= 0:
            return math.nan
        return float((ev_a[s].sum() / pya) / (evb / pyb))

    lo = hi = math.nan
    n = len(a)
    if reps > 0 and n > 0:
        rng = rng if rng is not None else np.random.default_rng()
        vals = np.array([ratio(rng.integers(0, n, n)) for _ in range(reps)])
        if np.isfinite(vals).any():
            lo, hi = (float(x) for x in np.nanpercentile(vals, [2.5, 97.5]))
    return pd.Series({"value": ratio(), "ci_low": lo, "ci_high": hi, "n": n,
                      "events_treated": int(ev_a.sum()), "events_control": int(ev_b.sum())})


# ----- Kaplan-Meier risks and medians ------------------------------------------------------------

def cumulative_incidence(times: pd.DataFrame, years: float) -> float:
    """1 - Kaplan-Meier survival at ``years`` (a fraction) of :func:`event_times` (censoring at
    death and at the end of follow-up); NaN without patients."""
    if not len(times):
        return math.nan
    kmf = KaplanMeierFitter().fit(times["days"].to_numpy(float) / DAYS_PER_YEAR,
                                  event_observed=times["event"].to_numpy(bool))
    return float(1.0 - kmf.survival_function_at_times(years).iloc[0])


def receptor_group(patients: pd.DataFrame) -> pd.Series:
    """Each patient's :data:`RECEPTOR_GROUPS` entry from ``er``, ``pr`` and ``her2``."""
    _check_columns(patients, "er", "pr", "her2")
    hr = patients["er"].astype(bool) | patients["pr"].astype(bool)
    her2 = patients["her2"].astype(bool)
    group = np.where(her2, "her2_positive", np.where(hr, "hr_positive_her2_negative", "triple_negative"))
    return pd.Series(group, index=patients.index, name="receptor_group")


def survival_from_metastasis(patients: pd.DataFrame) -> pd.DataFrame:
    """Patients with a detected distant metastasis, de novo (day 0) or relapsed, with ``days``
    from the first distant metastasis to death or the end of follow-up, ``event`` (death) and
    ``receptor_group`` (the ESME population: every metastatic patient, time from metastasis)."""
    _check_columns(patients, "distant_metastasis_day", "os_days", "os_event")
    met = patients[np.isfinite(patients["distant_metastasis_day"].to_numpy(float))]
    # Floating noise can put os_days a hair below the metastasis day when both fall on one day.
    days = np.clip(met["os_days"].to_numpy(float) - met["distant_metastasis_day"].to_numpy(float), 0.0, None)
    return pd.DataFrame({"days": days, "event": met["os_event"].to_numpy(bool),
                         "receptor_group": receptor_group(met).to_numpy()}, index=met.index)


def median_months_by_receptor_group(patients: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier median survival from the first distant metastasis, in months, per
    :data:`RECEPTOR_GROUPS` (all of them, n = 0 and NaN where none qualifies). Columns:
    receptor_group, n, events, median_months."""
    after = survival_from_metastasis(patients)
    med = (median_by_group(after, "days", "event", "receptor_group", time_scale=DAYS_PER_MONTH)
           .set_index("receptor_group") if len(after) else pd.DataFrame(columns=["n", "events", "median"]))
    rows = [{"receptor_group": g, "n": int(med["n"].get(g, 0)), "events": int(med["events"].get(g, 0)),
             "median_months": float(med["median"].get(g, math.nan))} for g in RECEPTOR_GROUPS]
    return pd.DataFrame(rows).astype({"n": "int64", "events": "int64", "median_months": "float64"})


# ----- clinic shares -----------------------------------------------------------------------------

def early_deaths(patients: pd.DataFrame, days: float = EARLY_DEATH_DAYS) -> tuple[int, int]:
    """(de novo stage IV patients dead within ``days`` of diagnosis, all de novo stage IV patients)."""
    _check_columns(patients, "M", "os_days", "os_event")
    m1 = patients[patients["M"] == "M1"]
    dead = m1["os_event"].astype(bool) & (m1["os_days"].to_numpy(float) <= days)
    return int(dead.sum()), int(len(m1))


def sentinel_negative(patients: pd.DataFrame, sentinel_count: int) -> pd.Series:
    """M0 patients with a negative sentinel biopsy (pN0 or pN0(i+)) whose axilla was not
    dissected: no more nodes examined than a sentinel biopsy removes (``nodes.sentinel_count``)."""
    _check_columns(patients, "M", "pN", "nodes_examined")
    return ((patients["M"] == "M0") & patients["pN"].isin(SENTINEL_NEGATIVE_PN)
            & (patients["nodes_examined"].to_numpy() <= sentinel_count))


def pn_counts(patients: pd.DataFrame) -> Mapping[str, int]:
    """Patients per pN category (every category of the table, zero where none)."""
    _check_columns(patients, "pN")
    return patients["pN"].value_counts().to_dict()


# ----- the nodal Cox model -----------------------------------------------------------------------

def nodal_design(patients: pd.DataFrame) -> pd.DataFrame:
    """M0 patients as rows of the nodal Cox model: ``days`` and ``event`` of a distant metastasis
    (:func:`event_times`, endpoint ``distant``), ``log_size`` (natural log of ``tumor_size_mm``),
    grade dummies (:data:`GRADE_TERMS`), subtype dummies (:data:`SUBTYPE_TERMS`) and pN group
    indicators (:data:`PN_TERMS`). Patients without a tumour size are left out."""
    _check_columns(patients, "M", "tumor_size_mm", "grade", "subtype", "pN")
    m0 = patients[(patients["M"] == "M0") & np.isfinite(patients["tumor_size_mm"].to_numpy(float))]
    size = m0["tumor_size_mm"].to_numpy(float)
    if np.any(size <= 0):
        raise ValueError("tumor_size_mm must be positive for a log-size covariate")
    unknown = sorted(set(m0["pN"]) - set(PN_GROUP_OF))
    if unknown:
        raise ValueError(f"unknown pN categories {unknown}; known: {', '.join(PN_GROUP_OF)}")
    times = event_times(m0, "distant")
    design = pd.DataFrame({"days": times["days"].to_numpy(float), "event": times["event"].to_numpy(bool),
                           "log_size": np.log(size)})
    grade = m0["grade"].to_numpy()
    for g, name in GRADE_TERMS.items():
        design[name] = (grade == g).astype(float)
    subtype = m0["subtype"].to_numpy()
    for s in SUBTYPE_TERMS:
        design[s] = (subtype == s).astype(float)
    group = m0["pN"].map(PN_GROUP_OF).to_numpy()
    for g, name in PN_TERMS.items():
        design[name] = (group == g).astype(float)
    return design


def cox_table(design: pd.DataFrame) -> pd.DataFrame:
    """Cox proportional-hazards fit (lifelines) of a design with ``days``, ``event`` and covariate
    columns: one row per covariate, ``hazard_ratio`` with its Wald 95% interval (``ci_low``,
    ``ci_high``) and ``p``; ``n`` and ``events`` of the fit on every row. Covariates that do not vary
    are left out of the fit and get NaN."""
    covariates = [c for c in design.columns if c not in ("days", "event")]
    varying = [c for c in covariates if design[c].nunique() > 1]
    out = pd.DataFrame(index=pd.Index(covariates, name="covariate"),
                       columns=["hazard_ratio", "ci_low", "ci_high", "p"], dtype=float)
    if varying and design["event"].any():
        s = CoxPHFitter().fit(design[["days", "event", *varying]], duration_col="days", event_col="event").summary
        out.loc[varying, "hazard_ratio"] = s["exp(coef)"].to_numpy()
        out.loc[varying, "ci_low"] = s["exp(coef) lower 95%"].to_numpy()
        out.loc[varying, "ci_high"] = s["exp(coef) upper 95%"].to_numpy()
        out.loc[varying, "p"] = s["p"].to_numpy()
    out["n"] = len(design)
    out["events"] = int(design["event"].sum())
    return out


def nodal_cox(patients: pd.DataFrame) -> pd.DataFrame:
    """:func:`cox_table` of :func:`nodal_design`."""
    return cox_table(nodal_design(patients))

__all__ = ["ENDPOINTS", "PN_TERMS", "RECEPTOR_GROUPS", "cox_table", "cumulative_incidence", "early_deaths", "event_rate",
           "event_times", "exposure", "first_recurrence_day", "has_site", "median_months_by_receptor_group",
           "nodal_cox", "nodal_design", "paired_arms", "paired_rate_ratio", "pn_counts", "rate_ratio",
           "receptor_group", "sentinel_negative", "survival_from_metastasis"]
