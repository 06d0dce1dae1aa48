"""Simulated case-control analyses: a biomarker's odds ratio for distant metastasis.

Cases are patients with a detected distant metastasis during follow-up; controls are all others
(an unmatched design adjusted by logistic regression for the prognostic factors that Robinson
et al. 2009 matched on: tumour size, nodes, grade, subtype). Fitted by maximum likelihood with
scipy; standard errors from the observed information.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import norm


def _design(patients: pd.DataFrame, marker: str, per: float, adjust: bool) -> np.ndarray:
    cols = [np.ones(len(patients)), patients[marker].to_numpy(float) / per]
    if adjust:
        cols += [np.log(patients["tumor_size_mm"].to_numpy(float)), np.log1p(patients["positive_nodes"].to_numpy(float)),
                 patients["grade"].to_numpy(float)]
        for s in sorted(patients["subtype"].unique())[1:]:
            cols.append((patients["subtype"] == s).to_numpy(float))
    return np.column_stack(cols)


def marker_odds_ratio(patients: pd.DataFrame, marker: str = "tmem_score", per: float = 10.0, *,
                      adjust: bool = True, confidence: float = 0.95) -> pd.Series:
    """Odds ratio of distant metastasis per ``per`` units of ``marker``, with its confidence interval.

    >>> df = pd.DataFrame({"tmem_score": [10., 20, 30, 40] * 50, "metastasis_sites": ["", "", "", "lung"] * 50})
    >>> bool(marker_odds_ratio(df, adjust=False)["odds_ratio"] > 1)
    True
    """
    y = (patients["metastasis_sites"] != "").to_numpy(float)
    x = _design(patients, marker, per, adjust)

    def nll(b):
        z = x @ b
        return np.sum(np.logaddexp(0.0, z) - y * z)

    def grad(b):
        return x.T @ (1.0 / (1.0 + np.exp(-(x @ b))) - y)

    fit = minimize(nll, np.zeros(x.shape[1]), jac=grad, method="BFGS")
    pr = 1.0 / (1.0 + np.exp(-(x @ fit.x)))
    info = (x * (pr * (1 - pr))[:, None]).T @ x
    se = float(np.sqrt(np.linalg.inv(info)[1, 1]))
    z = norm.ppf(0.5 + confidence / 2)
    b = float(fit.x[1])
    return pd.Series({"odds_ratio": np.exp(b), "ci_low": np.exp(b - z * se), "ci_high": np.exp(b + z * se),
                      "cases": int(y.sum()), "controls": int(len(y) - y.sum()),
                      "median_marker_cases": float(np.median(patients[marker][y == 1])) if y.any() else np.nan,
                      "median_marker_controls": float(np.median(patients[marker][y == 0])) if (y == 0).any() else np.nan})
