"""Where distant metastases appear: share of relapsed patients with each organ, by subtype.

A relapsed patient is one with a detected distant metastasis (non-empty ``metastasis_sites``,
organs ";"-joined, docs/schema.md). A patient with bone and liver counts once for each organ,
so the shares of one subtype add up to more than 1, as in the published site tables.

>>> import pandas as pd
>>> p = pd.DataFrame({"subtype": ["her2", "her2", "her2"], "metastasis_sites": ["bone;brain", "brain", ""]})
>>> site_shares_by_subtype(p)[["organ", "share"]].to_dict("records")
[{'organ': 'bone', 'share': 0.5}, {'organ': 'brain', 'share': 1.0}]
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from seedsoil.analysis.survival import group_order
from seedsoil.params import default_parameters

SITE_SEPARATOR = ";"
OVERALL = "all"
"""Subtype label of the whole-cohort rows."""


@lru_cache(maxsize=1)
def organ_order() -> tuple[str, ...]:
    """Organs in the order of the parameter registry (``organ.<name>.*``), for stable tables."""
    seen: dict[str, None] = {}
    for name in default_parameters():
        if name.startswith("organ."):
            seen.setdefault(name.split(".")[1], None)
    return tuple(seen)


def _sort_organs(organs: set[str]) -> list[str]:
    known = [o for o in organ_order() if o in organs]
    return known + sorted(organs - set(known))


def _site_matrix(patients: pd.DataFrame, sites_col: str) -> pd.DataFrame:
    """Per patient, True for each organ in her ';'-joined sites (columns: organs in registry order).

    Each distinct text is parsed once (a cohort has a few hundred), so this is fast for millions."""
    if sites_col not in patients.columns:
        raise KeyError(f"missing column {sites_col!r}; available: {list(patients.columns)}")
    codes, texts = pd.factorize(patients[sites_col].astype(object).fillna(""), sort=False)
    sets = [frozenset(x for x in str(t).split(SITE_SEPARATOR) if x) for t in texts]
    organs = _sort_organs(set().union(*sets)) if sets else []
    table = np.array([[o in st for o in organs] for st in sets], dtype=bool).reshape(len(sets), len(organs))
    return pd.DataFrame(table[codes] if len(codes) else np.zeros((0, len(organs)), bool), columns=organs,
                        index=patients.index)


def _shares(matrix: pd.DataFrame) -> list[dict]:
    n = int(len(matrix))
    means = matrix.to_numpy().mean(axis=0) if n else np.zeros(matrix.shape[1])
    return [{"organ": o, "n_relapsed": n, "share": float(m)} for o, m in zip(matrix.columns, means)]


def site_shares_by_subtype(patients: pd.DataFrame, *, sites_col: str = "metastasis_sites",
                           include_overall: bool = False) -> pd.DataFrame:
    """Share (0..1) of relapsed patients with a metastasis in each organ, by subtype.

    Long table: subtype, organ, n_relapsed (relapsed patients of that subtype), share. Every
    organ seen in any relapsed patient appears for every subtype that has relapsed patients
    (share 0 where absent). ``include_overall`` appends rows with subtype ``"all"``.
    ``sites_col="first_metastasis_sites"`` gives the pattern at first relapse instead.
    """
    if "subtype" not in patients.columns:
        raise KeyError(f"missing column 'subtype'; available: {list(patients.columns)}")
    matrix = _site_matrix(patients, sites_col)
    relapsed = matrix.any(axis=1)
    matrix = matrix.loc[:, matrix[relapsed].any(axis=0)]
    rows: list[dict] = []
    for st in group_order(patients.loc[relapsed, "subtype"]):
        rows += [{"subtype": st, **r} for r in _shares(matrix[relapsed & (patients["subtype"] == st)])]
    if include_overall and relapsed.any():
        rows += [{"subtype": OVERALL, **r} for r in _shares(matrix[relapsed])]
    return pd.DataFrame(rows, columns=["subtype", "organ", "n_relapsed", "share"]).astype(
        {"subtype": object, "organ": object, "n_relapsed": "int64", "share": "float64"})


def site_shares_overall(patients: pd.DataFrame, *, sites_col: str = "metastasis_sites") -> pd.DataFrame:
    """Share (0..1) of all relapsed patients with a metastasis in each organ: organ, n_relapsed, share."""
    df = site_shares_by_subtype(patients, sites_col=sites_col, include_overall=True)
    return df[df["subtype"] == OVERALL].drop(columns="subtype").reset_index(drop=True)
