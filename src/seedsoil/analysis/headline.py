"""The main outputs of a cohort as plain numbers (the quantities a sensitivity analysis follows,
issue 12 part 4): distant relapse by 10 years, the share of relapses involving bone, liver, lung
and brain, median survival after a distant relapse and de novo stage IV."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seedsoil.analysis.survival import DAYS_PER_YEAR, distant_relapse_mask, km_median
from seedsoil.analysis.therapy_effects import has_site

RELAPSE_YEARS = 10.0
SITE_ORGANS = ("bone", "liver", "lung", "brain")
OUTPUTS: dict[str, str] = {
    "distant_relapse_10y": "distant relapse within 10 years, % of patients without metastases at diagnosis",
    **{f"{o}_share_of_relapses": f"relapsed patients with {o} involvement (ever), %" for o in SITE_ORGANS},
    "median_os_after_relapse_years": "median survival after a distant relapse, years (Kaplan-Meier)",
    "de_novo_stage_iv": "metastases at diagnosis (M1), % of all patients",
}
"""Output name -> what it is, with its unit."""


def headline_outputs(patients: pd.DataFrame) -> dict[str, float]:
    """Every :data:`OUTPUTS` value of one cohort (NaN where it has no patient to count)."""
    p = patients
    m1 = (p["M"].astype(str) == "M1").to_numpy()
    m0 = p[~m1]
    relapsed = distant_relapse_mask(m0).to_numpy()
    within = relapsed & (m0["distant_metastasis_day"].to_numpy(float) <= RELAPSE_YEARS * DAYS_PER_YEAR)
    out = {"distant_relapse_10y": 100.0 * within.mean() if len(m0) else math.nan}
    rel = m0[relapsed]
    for o in SITE_ORGANS:
        out[f"{o}_share_of_relapses"] = 100.0 * has_site(rel["metastasis_sites"], o).mean() if len(rel) else math.nan
    if len(rel):
        days = np.clip(rel["os_days"].to_numpy(float) - rel["distant_metastasis_day"].to_numpy(float), 0.0, None)
        out["median_os_after_relapse_years"] = km_median(days, rel["os_event"].to_numpy(bool))
    else:
        out["median_os_after_relapse_years"] = math.nan
    out["de_novo_stage_iv"] = 100.0 * m1.mean() if len(p) else math.nan
    return out
