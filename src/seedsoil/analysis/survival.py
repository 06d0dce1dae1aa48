"""Survival analysis of a simulated cohort with lifelines: Kaplan–Meier, medians, log-rank.

Times in the result tables are days from diagnosis (docs/schema.md); functions here take the
column names so they work on any endpoint, and report medians in a chosen unit (years by
default where the function is about patients' survival).

>>> import pandas as pd
>>> df = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0, 5.0], "e": [True] * 5, "g": ["a"] * 5})
>>> median_by_group(df, "t", "e", "g", time_scale=1.0)["median"].tolist()
[3.0]
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import StatisticalResult, multivariate_logrank_test

from seedsoil.scenario import SUBTYPES

DAYS_PER_YEAR = 365.25
"""Julian year in days: the conversion used for every 'years' figure in seedsoil."""

ENDPOINTS: dict[str, tuple[str, str]] = {
    "os": ("os_days", "os_event"),
    "dmfs": ("dmfs_days", "dmfs_event"),
    "dfs": ("dfs_days", "dfs_event"),
}
"""Trial endpoint -> (duration column in days, event flag column) in the patients table."""

ENDPOINT_LABELS: dict[str, str] = {
    "os": "Overall survival",
    "dmfs": "Distant-metastasis-free survival",
    "dfs": "Disease-free survival",
}
EXCLUDES_STAGE_IV = frozenset({"dmfs", "dfs"})
"""Endpoints defined only for patients free of distant disease at diagnosis (M0): de novo stage IV
patients are left out of them, as in trials."""


def endpoint_columns(endpoint: str) -> tuple[str, str]:
    """The (duration, event) column names of an endpoint ('os', 'dmfs' or 'dfs')."""
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}") from None


def group_order(values: pd.Series) -> list[Hashable]:
    """Groups in a stable order: known subtypes in their canonical order, then the rest sorted."""
    present = list(pd.unique(values.dropna()))
    known = [s for s in SUBTYPES if s in present]
    rest = sorted((v for v in present if v not in SUBTYPES), key=str)
    return known + rest


def _check_columns(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; available: {list(df.columns)}")


def _fit(durations: pd.Series, events: pd.Series, label: str, time_scale: float) -> KaplanMeierFitter:
    """One KM fit; durations are divided by ``time_scale`` (e.g. 365.25 for years)."""
    d = durations.to_numpy(dtype=float) / time_scale
    if np.any(~np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"group {label!r}: durations must be finite and non-negative")
    return KaplanMeierFitter(label=str(label)).fit(d, event_observed=events.to_numpy(dtype=bool))


def km_by_group(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                *, time_scale: float = 1.0) -> dict[Hashable, KaplanMeierFitter]:
    """A fitted Kaplan–Meier estimator per group (time axis = duration / ``time_scale``).

    Groups come in :func:`group_order`; empty groups are absent.
    """
    _check_columns(df, duration_col, event_col, group_col)
    out: dict[Hashable, KaplanMeierFitter] = {}
    for g in group_order(df[group_col]):
        sub = df[df[group_col] == g]
        out[g] = _fit(sub[duration_col], sub[event_col], str(g), time_scale)
    return out


def _median(kmf: KaplanMeierFitter) -> float:
    """KM median; NaN where the curve never falls to 0.5 (median not reached)."""
    m = float(kmf.median_survival_time_)
    return m if math.isfinite(m) else math.nan


def km_median(days, events, *, time_scale: float = DAYS_PER_YEAR) -> float:
    """Kaplan–Meier median of ``days`` (event flags ``events``) in units of ``time_scale`` days;
    NaN when the median is not reached."""
    return _median(_fit(pd.Series(days), pd.Series(events), "", time_scale))


def endpoint_km(patients: pd.DataFrame, endpoint: str,
                label: str | None = None) -> tuple[KaplanMeierFitter | None, pd.DataFrame]:
    """(Kaplan–Meier fit in years or None when nobody is at risk, the patients it counts) of an
    endpoint over ``patients``: every patient for OS, those without metastases at diagnosis for
    DFS and DMFS (:data:`EXCLUDES_STAGE_IV`)."""
    d_col, e_col = endpoint_columns(endpoint)
    df = patients[patients["M"].astype(str) != "M1"] if endpoint in EXCLUDES_STAGE_IV else patients
    if not len(df):
        return None, df
    return _fit(df[d_col], df[e_col], label if label is not None else endpoint, DAYS_PER_YEAR), df


def median_by_group(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str,
                    *, time_scale: float = DAYS_PER_YEAR) -> pd.DataFrame:
    """Kaplan–Meier median per group in units of ``time_scale`` days (years by default).

    Columns: ``group_col``, n, events, median (NaN when the median is not reached).
    """
    fits = km_by_group(df, duration_col, event_col, group_col, time_scale=time_scale)
    rows = []
    for g, kmf in fits.items():
        sub = df[df[group_col] == g]
        rows.append({group_col: g, "n": int(len(sub)), "events": int(sub[event_col].astype(bool).sum()),
                     "median": _median(kmf)})
    return pd.DataFrame(rows, columns=[group_col, "n", "events", "median"]).astype(
        {"n": "int64", "events": "int64", "median": "float64"})


def logrank_by_group(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str) -> StatisticalResult:
    """Log-rank test that all groups share one survival curve (lifelines' multivariate test).

    Read ``.p_value`` and ``.test_statistic`` (chi-squared, groups - 1 degrees of freedom).
    """
    _check_columns(df, duration_col, event_col, group_col)
    if df[group_col].nunique() < 2:
        raise ValueError(f"log-rank test needs at least two groups in {group_col!r}")
    return multivariate_logrank_test(df[duration_col].to_numpy(dtype=float), df[group_col].to_numpy(),
                                     df[event_col].to_numpy(dtype=bool))


def distant_relapse_mask(patients: pd.DataFrame) -> pd.Series:
    """Patients with a detected distant metastasis (non-empty ``metastasis_sites``)."""
    _check_columns(patients, "metastasis_sites")
    sites = patients["metastasis_sites"].astype(object)
    return sites.notna() & (sites != "")


def median_os_after_distant_relapse(patients: pd.DataFrame) -> pd.DataFrame:
    """Median survival (years) from distant relapse to death, by subtype.

    Uses patients with ``dmfs_event`` True and a detected distant metastasis; the clock starts
    at ``dmfs_days`` and stops at ``os_days`` (event ``os_event``). DMFS also counts death
    without metastasis (STEEP), hence the metastasis filter. Columns: subtype, n, median_years
    (NaN when the median is not reached or no patient qualifies).
    """
    _check_columns(patients, "subtype", "dmfs_days", "dmfs_event", "os_days", "os_event")
    rel = patients[patients["dmfs_event"].astype(bool) & distant_relapse_mask(patients)]
    after = pd.DataFrame({
        "subtype": rel["subtype"].to_numpy(),
        # Floating noise can make os_days a hair below dmfs_days when both fall on one day.
        "days": np.clip(rel["os_days"].to_numpy(dtype=float) - rel["dmfs_days"].to_numpy(dtype=float), 0.0, None),
        "event": rel["os_event"].to_numpy(dtype=bool),
    })
    med = median_by_group(after, "days", "event", "subtype", time_scale=DAYS_PER_YEAR)
    rows = []
    for s in group_order(patients["subtype"]):
        hit = med[med["subtype"] == s]
        rows.append({"subtype": s, "n": int(hit["n"].iloc[0]) if len(hit) else 0,
                     "median_years": float(hit["median"].iloc[0]) if len(hit) else math.nan})
    out = pd.DataFrame(rows, columns=["subtype", "n", "median_years"])
    return out.astype({"n": "int64", "median_years": "float64"})
