"""Organ-level outcomes of distant metastasis: survival by the organs of the first distant relapse,
and brain involvement in HER2+ metastatic disease (the ``organs`` targets of ``seedsoil validate``).

Sites are the ';'-joined organ lists of docs/schema.md: ``first_metastasis_sites`` (organs found
within 90 days of the first distant detection) and ``metastasis_sites`` (every organ found during
follow-up). Survival after relapse runs in days from ``distant_metastasis_day`` to ``os_days``
(event: ``os_event``; the end of follow-up censors).

>>> import pandas as pd
>>> p = pd.DataFrame({"her2": [True, True, True, False], "metastasis_sites": ["bone;brain", "brain", "liver", "brain"],
...                   "first_metastasis_sites": ["bone", "brain", "liver", "brain"]})
>>> her2_brain_counts(p), her2_brain_counts(p, later_only=True)
((2, 3), (1, 2))
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedsoil.analysis.therapy_effects import SUBTYPE_TERMS, cox_table, has_site

COX_ORGANS = ("liver", "lung", "brain", "bone")
"""Organ indicators of the first-relapse Cox model: each organ among the first sites against its
absence, adjusted for the others and for subtype (:data:`SUBTYPE_TERMS`, each against luminal A)."""


def _require(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; available: {list(df.columns)}")


def first_relapse_design(patients: pd.DataFrame) -> pd.DataFrame:
    """Patients without metastasis at diagnosis (M0) with a detected distant relapse, as rows of the
    first-relapse Cox model: ``days`` from the first distant metastasis to death or the end of
    follow-up, ``event`` (death), a 0/1 column per :data:`COX_ORGANS` (organ among the first sites)
    and subtype dummies (:data:`SUBTYPE_TERMS`)."""
    _require(patients, "M", "subtype", "first_metastasis_sites", "metastasis_sites", "distant_metastasis_day",
                   "os_days", "os_event")
    day = patients["distant_metastasis_day"].to_numpy(float)
    sites = patients["metastasis_sites"].fillna("").astype(str)
    rel = patients[(patients["M"] == "M0").to_numpy() & np.isfinite(day) & (sites != "").to_numpy()]
    # Floating noise can put os_days a hair below the metastasis day when both fall on one day.
    days = np.clip(rel["os_days"].to_numpy(float) - rel["distant_metastasis_day"].to_numpy(float), 0.0, None)
    design = pd.DataFrame({"days": days, "event": rel["os_event"].to_numpy(bool)})
    for organ in COX_ORGANS:
        design[organ] = has_site(rel["first_metastasis_sites"], organ).to_numpy(float)
    subtype = rel["subtype"].to_numpy()
    for s in SUBTYPE_TERMS:
        design[s] = (subtype == s).astype(float)
    return design


def first_relapse_cox(patients: pd.DataFrame) -> pd.DataFrame:
    """Hazard ratios of death after the first distant relapse by organ among the first sites
    (:func:`cox_table` of :func:`first_relapse_design`)."""
    return cox_table(first_relapse_design(patients))


def her2_brain_counts(patients: pd.DataFrame, *, later_only: bool = False) -> tuple[int, int]:
    """(HER2+ patients with brain in ``metastasis_sites``, HER2+ patients with a detected distant
    metastasis), de novo or relapsed. ``later_only`` keeps only patients without brain among their
    first sites: brain metastases that appear after the first metastasis (Maurer 2018's count)."""
    _require(patients, "her2", "metastasis_sites", "first_metastasis_sites")
    sites = patients["metastasis_sites"].fillna("").astype(str)
    met = patients[patients["her2"].astype(bool).to_numpy() & (sites != "").to_numpy()]
    if later_only:
        met = met[~has_site(met["first_metastasis_sites"], "brain").to_numpy()]
    return int(has_site(met["metastasis_sites"], "brain").sum()), int(len(met))


def skeletal_event_design(patients: pd.DataFrame) -> pd.DataFrame:
    """Patients whose first distant relapse involves bone: ``days`` from it to the first
    skeletal-related event (``event``) or to death or the end of follow-up (censored)."""
    _require(patients, "first_metastasis_sites", "distant_metastasis_day", "skeletal_event_day", "os_days")
    p = patients[has_site(patients["first_metastasis_sites"], "bone").to_numpy()]
    start = p["distant_metastasis_day"].to_numpy(float)
    sre = p["skeletal_event_day"].to_numpy(float)
    event = np.isfinite(sre)
    days = np.where(event, sre, p["os_days"].to_numpy(float)) - start
    return pd.DataFrame({"days": np.clip(days, 0.0, None), "event": event})


__all__ = ["COX_ORGANS", "cox_table", "first_relapse_cox", "first_relapse_design", "her2_brain_counts",
           "skeletal_event_design"]

