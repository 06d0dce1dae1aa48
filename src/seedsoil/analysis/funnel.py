"""The metastatic cascade as a funnel: how many cells reach each stage, out of those shed.

The funnel table (docs/schema.md) has rows (stage, organ, count); whole-body stages use organ
``"all"`` and the lymphatic route ``"axillary_nodes"``. The summary gives one total per stage
in cascade order, which shows the metastatic inefficiency at a glance.

>>> import pandas as pd
>>> f = pd.DataFrame({"stage": ["entered_blood", "shed", "arrested", "arrested", "arrested"],
...                   "organ": ["all", "all", "lung", "bone", "axillary_nodes"], "count": [100, 1000, 60, 30, 7]})
>>> summarise_funnel(f).set_index("stage").loc[["shed", "entered_blood", "arrested"], "count"].tolist()
[1000, 100, 90]
"""

from __future__ import annotations

import math

import pandas as pd

STAGES: tuple[str, ...] = (
    "shed", "entered_lymph", "entered_blood", "survived_circulation", "arrested",
    "extravasated", "dormant", "micrometastases", "colonies", "detected",
)
"""Cascade stages in order, as in docs/schema.md."""

WHOLE_BODY = "all"
LYMPHATIC = "axillary_nodes"


def stage_order(stages: pd.Series | list[str]) -> list[str]:
    """All cascade stages in order, then any stage the schema does not know, sorted."""
    extra = sorted(set(stages) - set(STAGES))
    return list(STAGES) + extra


def summarise_funnel(funnel: pd.DataFrame) -> pd.DataFrame:
    """One total per stage in cascade order, with its fraction of the cells shed.

    Columns: stage, count (int64, cells or colonies), fraction_of_shed (NaN if nothing was shed).
    A stage with an ``"all"`` row uses that whole-body count; otherwise its distant-organ rows
    are summed (the blood route: units arrested in, or deposits founded in, the axillary nodes
    come from ``entered_lymph`` and are left out, so each stage is a subset of the one before).
    Stages with no rows count 0.
    """
    missing = {"stage", "organ", "count"} - set(funnel.columns)
    if missing:
        raise KeyError(f"funnel table lacks column(s) {sorted(missing)}")
    totals: dict[str, int] = {}
    for stage, rows in funnel.groupby("stage", sort=False):
        whole = rows[rows["organ"] == WHOLE_BODY]
        totals[str(stage)] = int((whole if len(whole) else rows[rows["organ"] != LYMPHATIC])["count"].sum())
    order = stage_order(list(totals))
    counts = [totals.get(s, 0) for s in order]
    shed = totals.get("shed", 0)
    frac = [c / shed if shed > 0 else math.nan for c in counts]
    return pd.DataFrame({"stage": order, "count": counts, "fraction_of_shed": frac}).astype(
        {"stage": object, "count": "int64", "fraction_of_shed": "float64"})


def funnel_by_organ(funnel: pd.DataFrame) -> pd.DataFrame:
    """Counts as a stage x organ table (stages in cascade order, organs sorted, 0 where absent)."""
    wide = funnel.pivot_table(index="stage", columns="organ", values="count", aggfunc="sum", fill_value=0)
    order = [s for s in stage_order(list(wide.index)) if s in wide.index]
    return wide.reindex(index=order, columns=sorted(wide.columns)).astype("int64")
