"""Column order and dtypes of the result tables (docs/schema.md), built from engine/clinic records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES

PATIENT_COLUMNS: dict[str, str] = {
    "patient_id": "int64", "subtype": "object", "histology": "object", "er": "bool", "pr": "bool", "her2": "bool",
    "age_at_diagnosis": "float64", "tumor_size_mm": "float64", "grade": "int64", "tmem_score": "float64",
    "positive_nodes": "int64", "nodes_examined": "int64", "pT": "object", "pN": "object", "M": "object",
    "stage": "object", "dfs_days": "float64", "dmfs_days": "float64", "os_days": "float64",
    "dfs_event": "bool", "dmfs_event": "bool", "os_event": "bool", "death_cause": "object", "first_metastasis_sites": "object",
    "metastasis_sites": "object", "regional_recurrence_day": "float64", "n_colonies": "int64",
    "ctc_7_5ml": "int64",
}
LESION_COLUMNS: dict[str, str] = {
    "patient_id": "int64", "organ": "object", "detection_day": "float64", "size_mm": "float64",
    "clone": "object", "founded_day": "float64", "origin": "object",
}


def patients_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(PATIENT_COLUMNS))
    return df.astype(PATIENT_COLUMNS).sort_values("patient_id", kind="stable").reset_index(drop=True)


def lesions_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(LESION_COLUMNS))
    df = df.astype(LESION_COLUMNS)
    return df.sort_values(["patient_id", "detection_day", "organ"], kind="stable").reset_index(drop=True)


def funnel_frame(counts: np.ndarray) -> pd.DataFrame:
    """Long table (stage, organ, count), cascade order; only sites a stage applies to."""
    rows = []
    for i, st in enumerate(FUNNEL_STAGES):
        for j, site in enumerate(FUNNEL_SITES):
            if counts[i, j] or (site == "all" and st in FUNNEL_STAGES[:4]):
                rows.append((st, site, int(counts[i, j])))
    return pd.DataFrame(rows, columns=["stage", "organ", "count"]).astype({"count": "int64"})
