"""A virtual trial's statistics: endpoint times from a cohort's tables, censored at the analysis,
and each arm against the control (Cox hazard ratio with its 95% interval, log-rank p; lifelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

DAYS_PER_YEAR = 365.25
ORGAN_ENDPOINTS = {"brain_mfs": "brain", "bone_mfs": "bone"}


def event_days(patients: pd.DataFrame, lesions: pd.DataFrame, endpoint: str) -> np.ndarray:
    """Days from diagnosis to each patient's endpoint event (inf where none within the run's
    follow-up); patients indexed 0..n-1 in patient_id order."""
    death = np.where(patients["os_event"].to_numpy(), patients["os_days"].to_numpy(), np.inf)
    if endpoint in ("dfs", "dmfs", "os"):
        return np.where(patients[f"{endpoint}_event"].to_numpy(), patients[f"{endpoint}_days"].to_numpy(), np.inf)
    if endpoint in ORGAN_ENDPOINTS:
        les = lesions[lesions["organ"] == ORGAN_ENDPOINTS[endpoint]]
        first = les.groupby("patient_id")["detection_day"].min()
        organ = pd.Series(np.inf, index=patients["patient_id"])
        organ.loc[first.index] = first.to_numpy()
        return np.minimum(organ.to_numpy(), death)
    if endpoint == "sre_fs":
        sre = patients["skeletal_event_day"].to_numpy()
        return np.minimum(np.where(np.isnan(sre), np.inf, sre), death)
    raise ValueError(f"unknown endpoint {endpoint!r}")


def censored(days: np.ndarray, follow_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(years, event) with each patient followed ``follow_days`` from randomisation."""
    event = days <= follow_days
    return np.where(event, days, follow_days) / DAYS_PER_YEAR, event


def compare(frame: pd.DataFrame, control: str, arm: str) -> dict:
    """Arm vs control on one endpoint (``frame``: arm, years, event): hazard ratio and its 95%
    interval (Cox, one indicator), log-rank p, events and Kaplan-Meier medians per arm."""
    two = frame[frame["arm"].isin([control, arm])]
    x = pd.DataFrame({"years": two["years"].to_numpy(), "event": two["event"].to_numpy(),
                      "treated": (two["arm"] == arm).to_numpy().astype(float)})
    out = {"arm": arm, "control": control,
           "events": {a: int(two.loc[two["arm"] == a, "event"].sum()) for a in (control, arm)},
           "median_years": {}}
    for a in (control, arm):
        g = two[two["arm"] == a]
        m = KaplanMeierFitter().fit(g["years"], g["event"]).median_survival_time_
        out["median_years"][a] = None if not np.isfinite(m) else float(m)
    if x["event"].sum() == 0 or x.loc[x["treated"] == 1, "event"].sum() == 0 \
            or x.loc[x["treated"] == 0, "event"].sum() == 0:
        out.update(hr=None, hr_low=None, hr_high=None, p_logrank=None,
                   note="no events in an arm: the hazard ratio is not estimable")
        return out
    cph = CoxPHFitter().fit(x, duration_col="years", event_col="event")
    s = cph.summary.loc["treated"]
    lr = logrank_test(x.loc[x["treated"] == 1, "years"], x.loc[x["treated"] == 0, "years"],
                      x.loc[x["treated"] == 1, "event"], x.loc[x["treated"] == 0, "event"])
    out.update(hr=float(s["exp(coef)"]), hr_low=float(s["exp(coef) lower 95%"]),
               hr_high=float(s["exp(coef) upper 95%"]), p_logrank=float(lr.p_value))
    return out
