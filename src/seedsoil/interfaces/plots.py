"""Static figures of a run: survival curves, metastatic sites and the cascade funnel.

Figures are built as :class:`matplotlib.figure.Figure` objects without pyplot, so nothing is
ever shown and no GUI backend is needed (saving renders with Agg). PNGs are written without a
version stamp, but they are not part of the determinism guarantee (only the Parquet tables are).

Every figure says what it counts (title, axis labels, footnote) and says so in the figure when
its table is empty instead of drawing empty axes. The figures need only the summary columns of
the patients table (patient_id, subtype, M, dmfs_days, dmfs_event, os_days, os_event,
first_metastasis_sites, metastasis_sites; strings may be categoricals) and are vectorised: a
million patients take a few seconds per figure (the Kaplan–Meier fits are lifelines'; what is
drawn is thinned to what a figure can show).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from seedsoil.analysis.funnel import summarise_funnel
from seedsoil.analysis.sites import site_shares_by_subtype
from seedsoil.analysis.survival import (DAYS_PER_YEAR, ENDPOINT_LABELS, EXCLUDES_STAGE_IV, endpoint_columns,
                                       endpoint_km, km_by_group)

DPI = 120
KM_SIZE_IN = (7.5, 4.6)
"""Width and height of the Kaplan–Meier panel; the numbers-at-risk table adds a row per group."""
AT_RISK_ROW_IN = 0.2
AT_RISK_LABEL_PAD = 14.0
"""Points between a group's name and its first number at risk (centred on time 0)."""
SITES_SIZE_IN = (9.5, 5.4)
SITES_TITLE_PAD = 22.0
"""Points between the sites axes and their title, for the legend between them."""
FUNNEL_SIZE_IN = (9.0, 5.0)
GROUP_WIDTH = 0.8
"""Share of one organ's slot on the x axis taken by its group of bars."""
FUNNEL_HEADROOM = 150.0
"""Factor above the largest count left free on the log axis for the labels."""
FUNNEL_TITLE_PAD = 30.0
"""Points between the funnel's axes and its title, for the legend between them."""
FUNNEL_LABEL_CHARS = 34
"""Stage labels wrap at this many characters."""
FUNNEL_FLOOR = 0.5
"""Left edge of the log axis, below a count of 1 so single cells still show a bar."""
CURVE_POINTS = 2000
"""Most points drawn per Kaplan–Meier curve: a longer curve is read on an even time grid (finer
than the figure's pixels), so a million patients draw as fast as a thousand."""
CENSOR_MARKS = 200
"""Most censoring ticks drawn per curve (evenly spread over the distinct censoring times)."""
KM_X_MARGIN = 0.04
"""Room left and right of the follow-up on the time axis (share of it), for the at-risk numbers."""
KM_ZOOM_ABOVE = 0.5
"""When every confidence band stays above this, the survival axis starts just below the lowest
band instead of at 0 (the axis label says where it starts)."""
CENSOR_STYLE = {"marker": "|", "ms": 6, "mew": 0.9, "ls": "none"}
BAND_ALPHA = 0.15
CONFIDENCE = 0.95
SUBTYPE_COLOURS = {
    "luminal_a": "#1b9e77",
    "luminal_b": "#7570b3",
    "her2": "#d95f02",
    "triple_negative": "#e7298a",
}
FALLBACK_COLOURS = ("#66a61e", "#e6ab02", "#a6761d", "#666666")
TRUNK_COLOUR = "#4c72b0"
BRANCH_COLOUR = "#a6bddb"
NOTE_COLOUR = "0.35"
PNG_METADATA = {"Software": None}
"""Leave matplotlib's version stamp out of the PNGs."""

FIGURE_FILES = ("km_dmfs.png", "km_os.png", "sites.png", "funnel.png")

DE_NOVO_STAGE_IV = "M1"
"""Value of column ``M`` for metastasis detectable at diagnosis (de novo stage IV)."""
EVENT_TEXT = {
    "os": "death from any cause",
    "dmfs": "distant metastasis or death from any cause (STEEP)",
    "dfs": "regional recurrence, distant metastasis or death from any cause (STEEP)",
}
"""What counts as an event for each endpoint (STEEP: Hudis et al. 2007 J Clin Oncol 25:2127)."""
SITE_SCOPE = {
    "metastasis_sites": "at any time during follow-up",
    "first_metastasis_sites": "at first distant relapse (organs found within 90 days of the first)",
}


def _colour(group: object, i: int) -> str:
    return SUBTYPE_COLOURS.get(str(group), FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """The caller's axes, or one on a new figure of ``size`` inches."""
    if ax is not None:
        return ax
    return Figure(figsize=size, dpi=DPI, layout="tight").add_subplot()


def _empty(ax: Axes, message: str) -> None:
    """Say in the axes why there is nothing to draw (and draw no ticks that would suggest data)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=NOTE_COLOUR,
            fontsize="large", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _require(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"patients table lacks column(s) {missing}; available: {list(df.columns)}")


def _stage_iv(patients: pd.DataFrame) -> np.ndarray:
    """True for de novo stage IV patients (``M == 'M1'``); all False without an ``M`` column."""
    if "M" not in patients.columns:
        return np.zeros(len(patients), dtype=bool)
    return (patients["M"].astype(object) == DE_NOVO_STAGE_IV).to_numpy(dtype=bool)


# ----- Kaplan–Meier ------------------------------------------------------------------------------


def _on_grid(kmf: KaplanMeierFitter, t_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times, survival, lower, upper) of a fitted curve as a right-continuous step function,
    exact for short curves and read on an even grid of :data:`CURVE_POINTS` times otherwise."""
    times = kmf.survival_function_.index.to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    ci = kmf.confidence_interval_survival_function_
    lo, hi = ci.iloc[:, 0].to_numpy(dtype=float), ci.iloc[:, 1].to_numpy(dtype=float)
    grid = times if len(times) <= CURVE_POINTS else np.linspace(0.0, max(t_max, times[-1]), CURVE_POINTS)
    idx = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 1)
    grid = np.append(grid, max(t_max, grid[-1]))  # carry the last step to the end of follow-up
    idx = np.append(idx, idx[-1])
    return grid, surv[idx], lo[idx], hi[idx]


def _censor_marks(kmf: KaplanMeierFitter) -> tuple[np.ndarray, np.ndarray]:
    """Times and survival of (at most :data:`CENSOR_MARKS`) distinct censoring times."""
    d = np.asarray(kmf.durations, dtype=float)
    e = np.asarray(kmf.event_observed, dtype=bool)
    cens = np.unique(d[~e])
    if len(cens) > CENSOR_MARKS:
        cens = cens[np.unique(np.linspace(0, len(cens) - 1, CENSOR_MARKS).round().astype(int))]
    times = kmf.survival_function_.index.to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    idx = np.clip(np.searchsorted(times, cens, side="right") - 1, 0, len(times) - 1)
    return cens, surv[idx]


def at_risk_counts(durations: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Number at risk at each of ``times``: patients whose event or censoring time is not before it.

    >>> at_risk_counts(np.array([1.0, 2.0, 2.0, 5.0]), np.array([0.0, 2.0, 3.0, 6.0])).tolist()
    [4, 3, 1, 0]
    """
    d = np.sort(np.asarray(durations, dtype=float))
    return len(d) - np.searchsorted(d, np.asarray(times, dtype=float), side="left")


def _at_risk_table(tab: Axes, fits: Mapping[object, KaplanMeierFitter], ticks: np.ndarray, note: str) -> None:
    """Numbers at risk under the curves: one row per group, one column per x tick."""
    names = list(fits)
    for i, (group, kmf) in enumerate(fits.items()):
        for t, n in zip(ticks, at_risk_counts(kmf.durations, ticks), strict=True):
            tab.text(t, i, f"{int(n):,}", ha="center", va="center", fontsize="x-small", color=_colour(group, i))
    tab.set_ylim(len(names) - 0.5, -0.5)
    tab.set_yticks(range(len(names)), [str(g) for g in names], fontsize="x-small")
    for i, label in enumerate(tab.get_yticklabels()):
        label.set_color(_colour(names[i], i))
    tab.tick_params(axis="both", which="both", length=0, labelbottom=False, bottom=False)
    tab.tick_params(axis="y", pad=AT_RISK_LABEL_PAD)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", loc="left", fontsize="small")
    tab.set_xlabel(note, fontsize="x-small", color=NOTE_COLOUR, loc="left")


def _y_floor(lows: list[float]) -> float:
    """Lower end of the survival axis: 0, or a tenth below every band when all curves stay high
    (at least :data:`KM_ZOOM_ABOVE`), so that curves near 1 can be told apart."""
    low = min(lows, default=0.0)
    if not math.isfinite(low) or low < KM_ZOOM_ABOVE:
        return 0.0
    return max(math.floor(low * 10.0 - 1e-9) / 10.0 - 0.1, 0.0)


def _km_axes(n_rows: int) -> tuple[Axes, Axes]:
    """A new figure's curve axes and, below them, the numbers-at-risk axes for ``n_rows`` groups."""
    fig = Figure(figsize=(KM_SIZE_IN[0], KM_SIZE_IN[1] + AT_RISK_ROW_IN * (n_rows + 2.5)), dpi=DPI,
                 layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[KM_SIZE_IN[1], AT_RISK_ROW_IN * (n_rows + 1.5)])
    ax = fig.add_subplot(grid[0])
    return ax, fig.add_subplot(grid[1], sharex=ax)


def plot_km(patients: pd.DataFrame, endpoint: str = "os", ax: Axes | None = None, *, by: str = "subtype") -> Figure:
    """Kaplan–Meier curves of an endpoint ('os', 'dmfs', 'dfs') by subtype (or by another column,
    ``by``: "stage" for the AJCC stage groups), in years.

    Drawn: each subtype's curve with its 95% confidence band (lifelines: exponential Greenwood)
    and censoring ticks, the numbers at risk under the axis, and a title naming what counts as an
    event (STEEP: for DMFS and DFS deaths from any cause are events). De novo stage IV patients
    (``M == 'M1'``) are left out of DMFS and DFS, which are defined from a disease-free start, and
    counted in OS; the figure states how many there are either way. Patients without a time
    (NaN) are left out and counted in the footnote.
    """
    duration_col, event_col = endpoint_columns(endpoint)
    _require(patients, by, duration_col, event_col)
    label = ENDPOINT_LABELS[endpoint]
    m1 = _stage_iv(patients)
    n_m1 = int(m1.sum())
    keep = np.isfinite(patients[duration_col].to_numpy(dtype=float))
    n_no_time = int((~keep & ~m1).sum()) if endpoint in EXCLUDES_STAGE_IV else int((~keep).sum())
    if endpoint in EXCLUDES_STAGE_IV:
        keep &= ~m1
        stage_iv = (f"de novo stage IV (M1) excluded, n = {n_m1:,}" if n_m1
                    else "no de novo stage IV (M1) patients")
    else:
        stage_iv = (f"includes {n_m1:,} de novo stage IV (M1) patient{'s' * (n_m1 != 1)}" if n_m1
                    else "no de novo stage IV (M1) patients")
    cohort = patients.loc[keep, [by, duration_col, event_col]] if not keep.all() else patients
    fits = km_by_group(cohort, duration_col, event_col, by, time_scale=DAYS_PER_YEAR)

    if ax is None:
        ax, tab = _km_axes(max(len(fits), 1))
    else:
        n_rows = max(len(fits), 1)
        tab = ax.inset_axes((0.0, -0.3 - 0.08 * n_rows, 1.0, 0.08 * n_rows), sharex=ax)
    ax.set_title(f"{label} by {by} (Kaplan–Meier)\n" + _wrap(f"Event: {EVENT_TEXT[endpoint]}; {stage_iv}", 85),
                 fontsize="medium")
    ax.set_ylabel(f"{label} (probability)")
    ax.set_xlabel("Time since diagnosis (years)")
    if not fits:
        what = "no M0 patients with a time" if endpoint in EXCLUDES_STAGE_IV else "no patients with a time"
        _empty(ax, f"{what}: no curve to draw")
        tab.set_axis_off()
        return ax.figure

    note = (f"Shaded: {CONFIDENCE:.0%} confidence band (exponential Greenwood). | = censored "
            "(alive and event-free at that time; most at the end of follow-up).")
    if n_no_time:
        note += f" {n_no_time:,} patient{'s' * (n_no_time != 1)} without a time left out."
    _draw_curves(ax, tab, fits, label, by, note)
    return ax.figure


def _draw_curves(ax: Axes, tab: Axes, fits: Mapping[object, KaplanMeierFitter], label: str, legend_title: str,
                 note: str) -> None:
    """Each group's curve with its band and censoring ticks, the axes' ranges and the numbers at risk."""
    t_max = max(float(np.max(kmf.durations, initial=0.0)) for kmf in fits.values())
    lows = []
    for i, (group, kmf) in enumerate(fits.items()):
        colour = _colour(group, i)
        t, s, lo, hi = _on_grid(kmf, t_max)
        lows.append(float(np.nanmin(lo, initial=1.0)))
        ax.fill_between(t, lo, hi, step="post", color=colour, alpha=BAND_ALPHA, linewidth=0)
        n, events = len(kmf.durations), int(np.sum(kmf.event_observed))
        ax.step(t, s, where="post", color=colour, lw=1.5, label=f"{group} (n = {n:,}, events = {events:,})")
        ct, cs = _censor_marks(kmf)
        ax.plot(ct, cs, color=colour, **CENSOR_STYLE)
    floor = _y_floor(lows)
    ax.set_ylim(floor, 1.02)
    if floor > 0:
        ax.set_ylabel(f"{label} (probability;\naxis starts at {floor:.1f})")
    span = t_max if t_max > 0 else 1.0
    ax.set_xlim(-KM_X_MARGIN * span, span * (1 + KM_X_MARGIN))
    ax.legend(loc="lower left", fontsize="small", title=legend_title, title_fontsize="small")
    ax.grid(alpha=0.3)
    ticks = np.array([x for x in ax.get_xticks() if 0.0 <= x <= span * (1 + KM_X_MARGIN)])
    _at_risk_table(tab, fits, ticks, _wrap(note, 125))


# ----- sites -------------------------------------------------------------------------------------


def _pct_label(v: float) -> str:
    if v >= 9.95:
        return f"{v:.0f}"
    if v >= 0.995:
        return f"{v:.1f}"
    return f"{v:.2g}"


def plot_sites(patients: pd.DataFrame, ax: Axes | None = None, *, sites_col: str = "metastasis_sites") -> Figure:
    """Grouped bars: % of relapsed patients with a metastasis in each organ, one bar per subtype.

    ``sites_col``: 'metastasis_sites' (any site during follow-up, the default) or
    'first_metastasis_sites' (sites at first distant relapse). A patient counts once in every
    organ she has, so one subtype's bars add up to more than 100%; every non-zero bar carries its
    value, so rare sites (a few tenths of a percent) stay readable next to bone at 60%.
    """
    _require(patients, "subtype", sites_col)
    ax = _axes(ax, SITES_SIZE_IN)
    scope = SITE_SCOPE.get(sites_col, f"listed in {sites_col}")
    shares = site_shares_by_subtype(patients, sites_col=sites_col)
    organs = list(dict.fromkeys(shares["organ"]))
    subtypes = list(dict.fromkeys(shares["subtype"]))
    n_all = int(shares.drop_duplicates("subtype")["n_relapsed"].sum()) if len(shares) else 0
    ax.set_title(_wrap(f"Distant metastatic sites by subtype: patients with a metastasis in each organ {scope}, "
                       f"% of the {n_all:,} patients with a distant relapse (of {len(patients):,})", 95),
                 fontsize="medium")
    if not subtypes:
        _empty(ax, f"no distant relapses in {len(patients):,} patients: no sites to show")
        return ax.figure
    x = np.arange(len(organs))
    width = GROUP_WIDTH / len(subtypes)
    top = 100.0 * float(shares["share"].max())
    for i, st in enumerate(subtypes):
        sub = shares[shares["subtype"] == st].set_index("organ").reindex(organs)
        n = int(sub["n_relapsed"].iloc[0])
        pct = 100.0 * sub["share"].to_numpy(dtype=float)
        xs = x - GROUP_WIDTH / 2 + (i + 0.5) * width
        ax.bar(xs, pct, width, color=_colour(st, i), label=f"{st} (n = {n:,} relapsed)")
        for xi, v in zip(xs, pct, strict=True):
            if v > 0:
                ax.text(xi, v + top * 0.01, _pct_label(v), ha="center", va="bottom", rotation=90, fontsize=6.5)
    ax.set_xticks(x, [o.replace("_", " ") for o in organs], rotation=30, ha="right")
    ax.set_ylim(0.0, max(top, 1.0) * 1.18)
    ax.set_xlim(-0.6, len(organs) - 0.4)
    ax.set_xlabel(_wrap("Metastatic site (organ). A patient counts once in every organ she has, so a subtype's "
                        "bars add up to more than 100%; numbers on the bars are %.", 110), fontsize="small")
    ax.set_ylabel("% of relapsed patients of the subtype")
    ax.legend(fontsize="small", loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(len(subtypes), 4),
              frameon=False, handlelength=1.0, columnspacing=1.2)
    ax.set_title(ax.get_title(), fontsize="medium", pad=SITES_TITLE_PAD)
    ax.grid(axis="y", alpha=0.3)
    return ax.figure


# ----- cascade funnel ----------------------------------------------------------------------------

FUNNEL_LAYOUT = (
    # stage, parent it is a branch of (None: a step of the cascade), label
    ("shed", None, "shed by the tumour"),
    ("entered_lymph", "shed", "entered lymph (to axillary nodes)"),
    ("entered_blood", None, "entered blood"),
    ("survived_circulation", None, "survived circulation"),
    ("arrested", None, "arrested in a distant organ"),
    ("extravasated", None, "extravasated"),
    ("dormant", "extravasated", "dormant solitary cells"),
    ("micrometastases", "extravasated", "micrometastases"),
    ("colonies", None, "colonies (from micrometastases or awakened dormant cells)"),
    ("detected", None, "detected metastases"),
)
"""The funnel as drawn: steps of the cascade (each a subset of the step above) and branches
(one fate among others of the stage they hang from, not a further step). A step whose count is
the step above's (every unit surviving circulation arrests in an organ) is drawn once."""
SAME_AS_ABOVE = {"arrested": "survived_circulation"}
"""Steps that may repeat the one above; when the counts are equal they share one bar."""
LESION_STAGES = frozenset({"colonies", "detected"})
"""Stages counted as lesions rather than disseminated units."""


def _funnel_rows(summary: pd.DataFrame) -> list[tuple[str, str | None, str, int]]:
    """(stage, parent, label, count) in drawing order, one stage shown once."""
    counts = dict(zip(summary["stage"], summary["count"].astype(int), strict=True))
    rows: list[tuple[str, str | None, str, int]] = []
    known = {s for s, _, _ in FUNNEL_LAYOUT}
    for stage, parent, label in FUNNEL_LAYOUT:
        if stage not in counts:
            continue
        twin = SAME_AS_ABOVE.get(stage)
        if twin in counts and counts[twin] == counts[stage] and rows and rows[-1][0] == twin:
            rows[-1] = (rows[-1][0], None, f"{rows[-1][2]}, then {label}", counts[stage])
            continue
        rows.append((stage, parent, label, counts[stage]))
    rows += [(s, None, s.replace("_", " "), counts[s]) for s in summary["stage"] if s not in known]
    return rows


def plot_funnel(funnel: pd.DataFrame, ax: Axes | None = None, *, patients: int | None = None) -> Figure:
    """The metastatic cascade as horizontal bars (log scale), summed over the cohort, labelled.

    Steps of the cascade are solid bars, each a subset of the one above; dormant solitary cells
    and micrometastases are drawn as branches of the extravasated units (hatched, with their share
    of them), and the lymphatic route as a branch of the units shed; a stage equal to the one
    above (every unit that survives circulation arrests in an organ) is drawn once. Counts are
    disseminated units (a CTC cluster counts once) up to micrometastases, lesions from colonies
    on. ``patients``: cohort size for the title.
    """
    ax = _axes(ax, FUNNEL_SIZE_IN)
    summary = summarise_funnel(funnel)
    who = f"{patients:,} patients" if patients is not None else "the cohort"
    title = f"Metastatic cascade funnel, summed over {who}"
    if int(summary["count"].to_numpy().max(initial=0)) == 0:
        ax.set_title(title, fontsize="medium")
        _empty(ax, "nothing was shed: the funnel is empty")
        return ax.figure
    ax.set_title(title, fontsize="medium", pad=FUNNEL_TITLE_PAD)
    rows = _funnel_rows(summary)
    counts = dict(zip(summary["stage"], summary["count"].astype(int), strict=True))
    shed = counts.get("shed", 0)
    y = np.arange(len(rows))
    c = np.array([r[3] for r in rows], dtype=float)
    branch = np.array([r[1] is not None for r in rows])
    bars = np.where(c > 0, c, np.nan)
    ax.barh(y[~branch], bars[~branch], color=TRUNK_COLOUR, height=0.75)
    ax.barh(y[branch], bars[branch], color=BRANCH_COLOUR, height=0.55, hatch="///", edgecolor="white", linewidth=0)
    ax.set_xscale("log")
    top = max(float(c.max(initial=0.0)), 1.0)
    ax.set_xlim(FUNNEL_FLOOR, top * FUNNEL_HEADROOM)
    for yi, (stage, parent, _, count) in enumerate(rows):
        if parent is not None:
            base = counts.get(parent, 0)
            share = f"  ({count / base:.2g} of {parent.replace('_', ' ')})" if base > 0 else ""
        else:
            share = f"  ({count / shed:.2g} of shed)" if shed > 0 and stage != "shed" else ""
        ax.text(max(count, FUNNEL_FLOOR) * 1.15, yi, f"{count:,}{share}", va="center", fontsize="small")
    ax.set_yticks(y, [("↳ " if r[1] is not None else "") + _wrap(r[2], FUNNEL_LABEL_CHARS) for r in rows],
                  fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(_wrap("Count summed over the cohort, log scale: disseminated units (a CTC cluster counts once) "
                        "up to micrometastases; colonies and detected metastases are lesions", 80), fontsize="small")
    ax.legend(handles=[Patch(color=TRUNK_COLOUR, label="step of the cascade (a subset of the step above)"),
                       Patch(facecolor=BRANCH_COLOUR, hatch="///", edgecolor="white",
                             label="branch (↳): one fate of the stage above it, not a further step")],
              fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=1, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax.figure


# ----- run figures -------------------------------------------------------------------------------


FIGURES: dict[str, Callable[[Mapping[str, pd.DataFrame]], Figure]] = {
    "km_dmfs.png": lambda t: plot_km(t["patients"], "dmfs"),
    "km_os.png": lambda t: plot_km(t["patients"], "os"),
    "sites.png": lambda t: plot_sites(t["patients"]),
    "funnel.png": lambda t: plot_funnel(t["funnel"], patients=len(t["patients"])),
}
"""The standard figures of a run: file name -> how to draw it from tables 'patients' and 'funnel'."""


def render_figures(tables: Mapping[str, pd.DataFrame]) -> dict[str, Figure]:
    """The standard figures of a run keyed by file name, from tables 'patients' and 'funnel'."""
    return {name: draw(tables) for name, draw in FIGURES.items()}


def figure_writers(tables: Mapping[str, pd.DataFrame]) -> dict[str, Callable[[Path], None]]:
    """File name -> a function that draws that figure and writes it to a path (each figure is
    drawn only when written, so several can be drawn in parallel)."""
    def writer(draw):
        def write(path: Path) -> None:
            write_figure(draw(tables), path)
        return write
    return {name: writer(draw) for name, draw in FIGURES.items()}


def png_data_url(fig: Figure) -> str:
    """``fig`` as a PNG ``data:`` URL, for pages that embed their figures (report, dashboard)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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


# ----- trials ------------------------------------------------------------------------------------


def trial_figure(enrolled: pd.DataFrame, endpoint: str, label: str, arms: tuple[str, ...],
                 comparisons: list[dict], title: str) -> Figure:
    """Kaplan–Meier curves of one trial endpoint by arm (years since randomisation), 95% bands,
    censoring ticks, numbers at risk, and each arm's hazard ratio against the control."""
    years, event = enrolled[f"{endpoint}_years"].to_numpy(), enrolled[f"{endpoint}_event"].to_numpy()
    fits = {}
    for a in arms:
        m = (enrolled["arm"] == a).to_numpy()
        if m.any():
            fits[a] = KaplanMeierFitter().fit(years[m], event[m], label=a)
    ax, tab = _km_axes(len(fits))
    fig = ax.figure
    hr = "; ".join(f"{c['arm']} vs {c['control']}: HR {c['hr']:.2f} ({c['hr_low']:.2f}-{c['hr_high']:.2f}), "
                   f"log-rank p = {c['p_logrank']:.3g}" if c.get("hr") is not None
                   else f"{c['arm']} vs {c['control']}: not estimable" for c in comparisons)
    ax.set_title(_wrap(f"{title}: {label}", 80) + "\n" + _wrap(hr, 95), fontsize="medium")
    ax.set_ylabel(f"{label} (probability)")
    ax.set_xlabel("Time since randomisation (years)")
    _draw_curves(ax, tab, fits, label, "arm",
                 f"Shaded: {CONFIDENCE:.0%} confidence band (exponential Greenwood). | = censored at the analysis "
                 "(staggered accrual) or alive and event-free. HR: Cox model, one arm indicator.")
    return fig


def twins_figure(twins: pd.DataFrame) -> Figure:
    """Kaplan–Meier DFS, DMFS and OS of a cohort of virtual twins (years since diagnosis), 95%
    bands, censoring ticks and numbers at risk; DFS and DMFS without de novo stage IV twins."""
    fits = {}
    for ep in ("dfs", "dmfs", "os"):
        kmf, _ = endpoint_km(twins, ep, ENDPOINT_LABELS[ep])
        if kmf is not None:
            fits[ENDPOINT_LABELS[ep]] = kmf
    ax, tab = _km_axes(max(len(fits), 1))
    rows = twins["row_id"].nunique()
    reps = int(twins["replicate"].max()) + 1 if len(twins) else 0
    ax.set_title(f"Virtual twins: {rows:,} patients x {reps} replicate{'s' * (reps != 1)} (Kaplan–Meier)\n"
                 + _wrap("Events: DFS regional/distant recurrence or death; DMFS distant metastasis or death; "
                         "OS death from any cause (STEEP)", 90), fontsize="medium")
    ax.set_ylabel("Probability event-free")
    ax.set_xlabel("Time since diagnosis (years)")
    if not fits:
        _empty(ax, "no twins: no curve to draw")
        tab.set_axis_off()
        return ax.figure
    _draw_curves(ax, tab, fits, "Probability event-free", "endpoint",
                 f"Shaded: {CONFIDENCE:.0%} confidence band (exponential Greenwood). | = censored (end of each "
                 "row's follow-up). DFS and DMFS leave out twins with metastases at diagnosis (M1).")
    return ax.figure


def tornado_figure(indices: pd.DataFrame, method: str) -> Figure:
    """One panel per output: each parameter's influence as a horizontal bar, largest on top
    (Morris mu*, the mean absolute elementary effect in the output's units, with its 95% interval;
    or Sobol total-order ST with its 95% interval and first-order S1 as a darker inner bar)."""
    from seedsoil.analysis.headline import OUTPUTS

    outputs = [o for o in OUTPUTS if o in set(indices["output"])]
    n_par = indices["parameter"].nunique()
    cols = 2
    rows = -(-len(outputs) // cols)
    fig = Figure(figsize=(12, max(2.5, 0.32 * n_par + 1.2) * rows), dpi=DPI, layout="constrained")
    what = ("Morris mu* (mean |elementary effect|: output change across each parameter's range; bar: 95% interval)"
            if method == "morris"
            else "Sobol total-order ST (light) and first-order S1 (dark); bar: 95% interval of ST")
    fig.suptitle(f"Sensitivity of the main outputs: {what}", fontsize="medium")
    for k, out in enumerate(outputs):
        ax = fig.add_subplot(rows, cols, k + 1)
        d = indices[indices["output"] == out]
        key, conf = ("mu_star", "mu_star_conf") if method == "morris" else ("ST", "ST_conf")
        d = d.sort_values(key)
        y = np.arange(len(d))
        ax.barh(y, d[key], xerr=d[conf], color="#4c72b0" if method == "morris" else "#a6bddb", capsize=2)
        if method == "sobol":
            ax.barh(y, d["S1"].clip(lower=0), height=0.4, color="#2b5d8a")
        ax.set_yticks(y, [_wrap(p, 40) for p in d["parameter"]], fontsize="x-small")
        ax.set_title(_wrap(OUTPUTS[out], 60), fontsize="small")
        ax.set_xlabel("mu* (output units per range)" if method == "morris" else "index (share of output variance)",
                      fontsize="x-small")
        ax.grid(axis="x", alpha=0.3)
    return fig


def posterior_figure(posterior: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """One panel per calibrated parameter: the last generation's weighted particles as a
    histogram over the prior range (log axis for log-scale priors), with the default value and the
    posterior median and 95% interval marked."""
    n = len(summary)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=DPI, layout="constrained")
    fig.suptitle("Posterior of the calibrated parameters (ABC-SMC, last generation)", fontsize="medium")
    w = posterior["weight"].to_numpy(float)
    for k, row in enumerate(summary.itertuples()):
        ax = fig.add_subplot(rows, cols, k + 1)
        x = posterior[row.parameter].to_numpy(float)
        log = row.prior_scale == "log"
        bins = np.geomspace(row.prior_low, row.prior_high, 21) if log else np.linspace(row.prior_low, row.prior_high, 21)
        ax.hist(x, bins=bins, weights=w, color="#9ecae1", edgecolor="white", label="posterior")
        if log:
            ax.set_xscale("log")
        ax.axvspan(row.posterior_q2_5, row.posterior_q97_5, color="#3182bd", alpha=0.15, label="95% interval")
        ax.axvline(row.posterior_median, color="#08519c", lw=1.5, label=f"median {row.posterior_median:.3g}")
        ax.axvline(row.default, color="#d62728", lw=1.2, ls="--", label=f"default {row.default:.3g}")
        ax.set_xlim(row.prior_low, row.prior_high)
        ax.set_title(row.parameter, fontsize="small")
        ax.set_xlabel(f"value (prior {row.prior_low:g}-{row.prior_high:g}, {row.prior_scale})", fontsize="x-small")
        ax.set_ylabel("posterior weight", fontsize="x-small")
        ax.legend(fontsize="xx-small")
    return fig


# ----- one patient's journey -----------------------------------------------------------------------

JOURNEY_THERAPIES = (("chemotherapy", "treatment.chemo_days"), ("anti_her2", "treatment.anti_her2_days"),
                     ("her2_tki", "treatment.her2_tki_days"), ("bone_agent", "treatment.bone_agent_days"))


def journey_figure(j) -> Figure:
    """One patient's timeline (years from diagnosis): the primary's size from its first cell to
    surgery and each metastasis at the size it was found (cells, log scale), above her
    treatments, relapse and death or end of follow-up."""
    from seedsoil.biology.growth import Gompertz, diameter_to_cells

    pat, hid, p = j.patient, j.hidden, j.params
    yr = DAYS_PER_YEAR
    fig = Figure(figsize=(9.0, 6.2), dpi=DPI, layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.6])
    ax = fig.add_subplot(grid[0])
    lane = fig.add_subplot(grid[1], sharex=ax)
    start, end = hid["first_cell_day"] / yr, float(pat["os_days"]) / yr
    law = Gompertz(rate=np.array([hid["primary_rate"]]), capacity=hid["capacity"], n0=hid["n0"])
    t = np.linspace(hid["first_cell_day"], 0.0, 200)
    ax.plot(t / yr, law.size(t - hid["first_cell_day"]), color=TRUNK_COLOUR, lw=2, label="primary tumour")
    ax.axvline(0.0, color=NOTE_COLOUR, ls=":", lw=1)
    organs = list(dict.fromkeys(j.lesions["organ"]))
    for i, organ in enumerate(organs):
        g = j.lesions[j.lesions["organ"] == organ]
        cells = diameter_to_cells(g["size_mm"].to_numpy(), p["cells.per_mm3"])
        ax.scatter(g["detection_day"] / yr, cells, s=40, color=FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)],
                   zorder=3, label=f"metastasis found: {organ}")
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(float(hid["capacity"]), 1e12))
    ax.set_ylabel("cells (log scale)")
    ax.set_title(_wrap(f"Patient {j.patient_id} ({j.scenario}, seed {j.seed}): {pat['subtype']} {pat['histology']}, "
                       f"stage {pat['stage']}, {pat['tumor_size_mm']:.0f} mm, {int(pat['positive_nodes'])} positive "
                       f"nodes", 90), fontsize="medium")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    ax.text(0.0, 2.0, " diagnosis and surgery", fontsize="x-small", color=NOTE_COLOUR)
    rows = []
    if pat["M"] != "M1":
        s0 = p["treatment.start_days"] / yr
        for name, key in JOURNEY_THERAPIES:
            if bool(pat[name]):
                rows.append((name.replace("_", " "), s0, p[key] / yr))
        if bool(pat["endocrine"]):
            rows.append(("endocrine", s0, float(pat["endocrine_years"])))
        if bool(pat["radiotherapy"]):
            rows.append(("radiotherapy", s0, 0.1))
    if np.isfinite(pat["distant_metastasis_day"]):
        m0 = float(pat["distant_metastasis_day"]) / yr
        rows.append((f"metastatic lines ({int(pat['metastatic_lines'])})", m0, max(end - m0, 0.05)))
    for i, (name, s0, width) in enumerate(rows):
        lane.broken_barh([(s0, width)], (i - 0.35, 0.7), color=FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)], alpha=0.8)
    lane.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize="small")
    lane.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.8)
    outcome = "death" if pat["os_event"] else "end of follow-up (alive)"
    lane.axvline(end, color="k", lw=1.5)
    lane.text(end, -0.7, f" {outcome}", fontsize="x-small", va="center")
    lane.set_xlabel("Years from diagnosis")
    lane.grid(alpha=0.3, axis="x")
    ax.set_xlim(start - 0.3, end + 0.8)
    return fig
