"""Column order and dtypes of the result tables (docs/schema.md), built from engine/clinic records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES
from seedsoil.interfaces.schema import pandas_dtypes

PATIENT_COLUMNS: dict[str, str] = pandas_dtypes("patients")
"""patients table: column -> pandas dtype, in file order (from interfaces/schema.py)."""
LESION_COLUMNS: dict[str, str] = pandas_dtypes("lesions")
"""lesions table: column -> pandas dtype, in file order (from interfaces/schema.py)."""
FUNNEL_COLUMNS: dict[str, str] = pandas_dtypes("funnel")
"""funnel table: column -> pandas dtype, in file order (from interfaces/schema.py)."""


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
    return pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS)).astype(FUNNEL_COLUMNS)
