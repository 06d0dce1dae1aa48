"""Static figures of a run: survival curves, metastatic sites and the cascade funnel.

Figures are built as :class:`matplotlib.figure.Figure` objects without pyplot, so nothing is
ever shown and no GUI backend is needed (saving renders with Agg). PNGs are written without a
version stamp, but they are not part of the determinism guarantee (only the Parquet tables are).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seedsoil.analysis.funnel import summarise_funnel
from seedsoil.analysis.sites import site_shares_by_subtype
from seedsoil.analysis.survival import DAYS_PER_YEAR, ENDPOINT_LABELS, endpoint_columns, km_by_group

DPI = 120
KM_SIZE_IN = (7.0, 4.5)
SITES_SIZE_IN = (9.0, 4.5)
FUNNEL_SIZE_IN = (8.0, 4.5)
GROUP_WIDTH = 0.8
"""Share of one organ's slot on the x axis taken by its group of bars."""
FUNNEL_HEADROOM = 40.0
"""Factor above the largest count left free on the log axis for the labels."""
FUNNEL_FLOOR = 0.5
"""Left edge of the log axis, below a count of 1 so single cells still show a bar."""
CENSOR_STYLE = {"marker": "|", "ms": 5, "mew": 0.8}
SUBTYPE_COLOURS = {
    "luminal_a": "#1b9e77",
    "luminal_b": "#7570b3",
    "her2": "#d95f02",
    "triple_negative": "#e7298a",
}
FALLBACK_COLOURS = ("#66a61e", "#e6ab02", "#a6761d", "#666666")
PNG_METADATA = {"Software": None}
"""Leave matplotlib's version stamp out of the PNGs."""

FIGURE_FILES = ("km_dmfs.png", "km_os.png", "sites.png", "funnel.png")


def _colour(group: object, i: int) -> str:
    return SUBTYPE_COLOURS.get(str(group), FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """The caller's axes, or one on a new figure of ``size`` inches."""
    if ax is not None:
        return ax
    return Figure(figsize=size, dpi=DPI, layout="tight").add_subplot()


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def plot_km(patients: pd.DataFrame, endpoint: str = "os", ax: Axes | None = None) -> Figure:
    """Kaplan–Meier curves of an endpoint ('os', 'dmfs', 'dfs') by subtype, in years, with censoring ticks."""
    duration_col, event_col = endpoint_columns(endpoint)
    ax = _axes(ax, KM_SIZE_IN)
    fits = km_by_group(patients, duration_col, event_col, "subtype", time_scale=DAYS_PER_YEAR)
    for i, (group, kmf) in enumerate(fits.items()):
        kmf.plot_survival_function(ax=ax, ci_show=False, show_censors=True, censor_styles=CENSOR_STYLE,
                                   color=_colour(group, i), label=f"{group} (n={len(kmf.durations)})")
    if not fits:
        _empty(ax, "no patients")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("Time since diagnosis (years)")
    ax.set_ylabel(f"{ENDPOINT_LABELS[endpoint]} (probability)")
    ax.set_title(f"{ENDPOINT_LABELS[endpoint]} by subtype (Kaplan–Meier, | = censored)")
    if fits:
        ax.legend(loc="lower left", fontsize="small")
    ax.grid(alpha=0.3)
    return ax.figure


def plot_sites(patients: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Grouped bars: % of relapsed patients with a metastasis in each organ, one bar per subtype."""
    ax = _axes(ax, SITES_SIZE_IN)
    shares = site_shares_by_subtype(patients)
    organs = list(dict.fromkeys(shares["organ"]))
    subtypes = list(dict.fromkeys(shares["subtype"]))
    x = np.arange(len(organs))
    width = GROUP_WIDTH / max(len(subtypes), 1)
    for i, st in enumerate(subtypes):
        sub = shares[shares["subtype"] == st].set_index("organ").reindex(organs)
        n = int(sub["n_relapsed"].iloc[0])
        ax.bar(x - GROUP_WIDTH / 2 + (i + 0.5) * width, 100.0 * sub["share"].to_numpy(), width,
               color=_colour(st, i), label=f"{st} (n={n})")
    if not subtypes:
        _empty(ax, "no distant relapses")
    ax.set_xticks(x, [o.replace("_", " ") for o in organs], rotation=30, ha="right")
    ax.set_xlabel("Metastatic site (organ)")
    ax.set_ylabel("Relapsed patients with a metastasis there (%)")
    ax.set_title("Distant metastatic sites by subtype")
    if subtypes:
        ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return ax.figure


def plot_funnel(funnel: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Horizontal bars of the cascade (count per stage, summed over the cohort) on a log scale, labelled."""
    ax = _axes(ax, FUNNEL_SIZE_IN)
    summary = summarise_funnel(funnel)
    y = np.arange(len(summary))
    counts = summary["count"].to_numpy(dtype=float)
    ax.barh(y, np.where(counts > 0, counts, np.nan), color="#4c72b0")
    ax.set_xscale("log")
    top = max(float(counts.max(initial=0.0)), 1.0)
    ax.set_xlim(FUNNEL_FLOOR, top * FUNNEL_HEADROOM)
    for yi, (c, f) in enumerate(zip(summary["count"], summary["fraction_of_shed"], strict=True)):
        share = "" if math.isnan(f) or yi == 0 else f"  ({f:.2g} of shed)"
        ax.text(max(c, FUNNEL_FLOOR) * 1.15, yi, f"{c:,}{share}", va="center", fontsize="small")
    ax.set_yticks(y, [s.replace("_", " ") for s in summary["stage"]])
    ax.invert_yaxis()
    ax.set_xlabel("Count summed over the cohort (cells or lesions, log scale)")
    ax.set_title("Metastatic cascade funnel")
    ax.grid(axis="x", alpha=0.3)
    return ax.figure


def render_figures(tables: Mapping[str, pd.DataFrame]) -> dict[str, Figure]:
    """The standard figures of a run keyed by file name, from tables 'patients' and 'funnel'."""
    patients, funnel = tables["patients"], tables["funnel"]
    return {
        "km_dmfs.png": plot_km(patients, "dmfs"),
        "km_os.png": plot_km(patients, "os"),
        "sites.png": plot_sites(patients),
        "funnel.png": plot_funnel(funnel),
    }


def write_figure(fig: Figure, path: Path) -> None:
    """Save one figure as PNG at :data:`DPI` (no version stamp)."""
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)


def save_figures(result_tables: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike) -> list[Path]:
    """Write km_dmfs.png, km_os.png, sites.png and funnel.png into ``out_dir``; return their paths.

    Each file goes to a temporary name first and is moved into place once written, so a failure
    never leaves a half-written PNG under the final name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in render_figures(result_tables).items():
        final = out / name
        tmp = out / f".{name}.tmp-{os.getpid()}"
        try:
            write_figure(fig, tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        paths.append(final)
    return paths
