"""Figures say what they show: titles, labels, numbers at risk, branches of the funnel, and a
message instead of empty axes when a table is empty. Built on synthetic tables (no engine)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from rich.console import Console

from seedsoil.analysis.funnel import STAGES
from seedsoil.interfaces import plots
from seedsoil.interfaces.results import Result
from seedsoil.interfaces.summary import print_summary
from seedsoil.scenario import SUBTYPES, load_scenario

SUMMARY_COLUMNS = ("patient_id", "subtype", "M", "dmfs_days", "dmfs_event", "os_days", "os_event",
                   "first_metastasis_sites", "metastasis_sites")
"""The only patients columns a streamed run hands the figures (interfaces/api.py)."""
CATEGORICAL = ("subtype", "M", "first_metastasis_sites", "metastasis_sites")
M1_PATIENTS = (3, 17, 42)
MILLION = 1_000_000
MILLION_BUDGET_S = 30.0
"""Wall-clock budget for building the four figures of a million patients (about 2.5 s alone on
one core; generous for a loaded CI machine running tests in parallel)."""


def flat(text: str) -> str:
    """Text with its line breaks (figures wrap long titles) as single spaces."""
    return " ".join(text.split())


def texts(fig: Figure) -> str:
    """Every piece of text in a figure (titles, labels, legends, annotations), joined, unwrapped."""
    return " | ".join(flat(t.get_text()) for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text())


def summary_only(patients: pd.DataFrame) -> pd.DataFrame:
    """The summary columns, strings as categoricals, as a streamed run reads them back."""
    p = patients.loc[:, list(SUMMARY_COLUMNS)].copy()
    for c in CATEGORICAL:
        p[c] = p[c].astype("category")
    return p


@pytest.fixture
def patients(synthetic_tables) -> pd.DataFrame:
    p = synthetic_tables["patients"].copy()
    p.loc[list(M1_PATIENTS), "M"] = "M1"
    return p


def funnel_of(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(s, "all", c) for s, c in counts.items()]
    return pd.DataFrame(rows, columns=["stage", "organ", "count"]).astype({"count": "int64"})


CASCADE = {"shed": 1_000_000, "entered_lymph": 700_000, "entered_blood": 300_000, "survived_circulation": 90_000,
           "arrested": 90_000, "extravasated": 40_000, "dormant": 15_000, "micrometastases": 900, "colonies": 60,
           "detected": 25}


# ----- Kaplan–Meier ------------------------------------------------------------------------------


def test_dmfs_figure_states_steep_events_and_excludes_de_novo_stage_iv(patients):
    fig = plots.plot_km(patients, "dmfs")
    ax = fig.axes[0]
    title = flat(ax.get_title())
    assert "Distant-metastasis-free survival" in title and "Kaplan" in title
    assert "death from any cause" in title and "STEEP" in title
    assert "de novo stage IV (M1) excluded" in title and f"n = {len(M1_PATIENTS)}" in title
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    m0 = patients[patients["M"] != "M1"]
    counts = {st: int((m0["subtype"] == st).sum()) for st in SUBTYPES if (m0["subtype"] == st).any()}
    assert len(legend) == len(counts)
    for (st, n), text in zip(counts.items(), legend, strict=True):
        assert text.startswith(st) and f"n = {n:,}" in text
    assert "years" in flat(ax.get_xlabel()) and "probability" in ax.get_ylabel()


def test_km_draws_confidence_bands_and_numbers_at_risk(patients):
    fig = plots.plot_km(patients, "os")
    ax, tab = fig.axes[0], fig.axes[1]
    groups = [st for st in SUBTYPES if (patients["subtype"] == st).any()]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(groups)
    assert "95% confidence band" in texts(fig) and "censored" in texts(fig)
    assert tab.get_title(loc="left") == "Number at risk"
    assert [t.get_text() for t in tab.get_yticklabels()] == groups
    at_zero = {round(t.get_position()[1]): t.get_text() for t in tab.texts if t.get_position()[0] == 0.0}
    for i, st in enumerate(groups):  # at time 0 everyone of the group is at risk (OS counts M1 patients)
        assert at_zero[i] == f"{int((patients['subtype'] == st).sum()):,}"
    assert f"includes {len(M1_PATIENTS)} de novo stage IV (M1)" in flat(ax.get_title())


def test_at_risk_counts_is_patients_not_yet_out():
    d = np.array([0.5, 1.0, 1.0, 2.0, 10.0])
    assert plots.at_risk_counts(d, np.array([0.0, 1.0, 1.5, 10.0, 11.0])).tolist() == [5, 4, 2, 1, 0]


def test_long_curves_are_thinned_but_keep_their_values():
    rng = np.random.default_rng(1)
    n = 50_000
    t = rng.exponential(2000.0, n)
    p = pd.DataFrame({"subtype": "her2", "M": "M0", "os_days": np.minimum(t, 3652.5), "os_event": t < 3652.5})
    ax = plots.plot_km(p, "os").axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_linestyle() != "None"]
    x, y = line.get_data()
    assert len(x) <= plots.CURVE_POINTS + 1
    exact = np.exp(-np.asarray(x) * 365.25 / 2000.0)
    assert np.max(np.abs(np.asarray(y) - exact)) < 0.02
    marks = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None"]
    assert all(len(m.get_xdata()) <= plots.CENSOR_MARKS for m in marks)


def test_km_with_no_patients_says_so():
    empty = pd.DataFrame({"subtype": pd.Series([], dtype=object), "M": pd.Series([], dtype=object),
                          "dmfs_days": pd.Series([], dtype=float), "dmfs_event": pd.Series([], dtype=bool)})
    fig = plots.plot_km(empty, "dmfs")
    assert "no curve to draw" in texts(fig)
    assert not fig.axes[0].get_lines() and flat(fig.axes[0].get_title())


def test_km_of_only_stage_iv_patients_says_so(patients):
    p = patients.assign(M="M1")
    fig = plots.plot_km(p, "dmfs")
    assert "no M0 patients" in texts(fig)
    assert not fig.axes[0].get_lines()


def test_km_leaves_out_patients_without_a_time_and_says_so(patients):
    p = patients.copy()
    p.loc[[0, 1], "os_days"] = np.nan
    fig = plots.plot_km(p, "os")
    assert "2 patients without a time left out" in texts(fig)


# ----- sites -------------------------------------------------------------------------------------


def test_sites_figure_says_what_it_counts(patients):
    fig = plots.plot_sites(patients)
    ax = fig.axes[0]
    words = texts(fig)
    assert "any time during follow-up" in flat(ax.get_title())
    assert "more than 100%" in flat(ax.get_xlabel())
    assert "relapsed" in ax.get_ylabel()
    bars = [b for b in ax.patches if b.get_height() > 0]
    labels = [t for t in ax.texts if t.get_rotation() == 90]
    assert len(labels) == len(bars) > 0  # every non-zero bar carries its value: rare sites stay readable
    assert "pleura" in words


def test_sites_figure_reads_rare_sites(patients):
    p = patients.copy()
    p.loc[p.index[0], "metastasis_sites"] = "bone;ovary"  # one rare site in one patient
    ax = plots.plot_sites(p).axes[0]
    assert "ovary" in [t.get_text() for t in ax.get_xticklabels()]
    shares = [t.get_text() for t in ax.texts if t.get_rotation() == 90]
    assert any(s not in ("0",) and float(s) < 5 for s in shares)


def test_sites_figure_can_show_first_sites(patients):
    fig = plots.plot_sites(patients, sites_col="first_metastasis_sites")
    assert "first distant relapse" in flat(fig.axes[0].get_title())


def test_sites_figure_without_relapses_says_so(patients):
    p = patients.assign(metastasis_sites="", first_metastasis_sites="")
    fig = plots.plot_sites(p)
    assert f"no distant relapses in {len(p):,} patients" in texts(fig)
    assert not fig.axes[0].patches and flat(fig.axes[0].get_title())


# ----- funnel ------------------------------------------------------------------------------------


def test_funnel_labels_units_and_draws_branches():
    fig = plots.plot_funnel(funnel_of(CASCADE), patients=1234)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "1,234 patients" in flat(ax.get_title())
    assert "cluster counts once" in flat(ax.get_xlabel()) and "log scale" in flat(ax.get_xlabel())
    branches = [lab for lab in labels if lab.startswith("↳")]
    assert len(branches) == 3  # entered lymph (of shed), dormant and micrometastases (of extravasated)
    assert any("dormant" in b for b in branches) and any("micrometastases" in b for b in branches)
    words = texts(fig)
    assert "of extravasated" in words and "branch" in words
    # dormant and micrometastases sit under extravasated, before the colonies
    order = [lab.replace("\n", " ") for lab in labels]
    ext = next(i for i, lab in enumerate(order) if lab.startswith("extravasated"))
    assert all(order[ext + k].startswith("↳") for k in (1, 2)) and order[ext + 3].startswith("colonies")


def test_funnel_does_not_show_one_stage_twice():
    labels = [t.get_text().replace("\n", " ") for t in plots.plot_funnel(funnel_of(CASCADE)).axes[0].get_yticklabels()]
    assert len(labels) == len(STAGES) - 1
    assert sum("arrested" in lab for lab in labels) == 1
    assert any("survived circulation" in lab and "arrested" in lab for lab in labels)
    values = [t.get_text().split()[0] for t in plots.plot_funnel(funnel_of(CASCADE)).axes[0].texts]
    assert len(values) == len(set(values)) == len(labels)
    differ = {**CASCADE, "arrested": 80_000}  # a model where some survivors do not arrest: both are shown
    labels = [t.get_text() for t in plots.plot_funnel(funnel_of(differ)).axes[0].get_yticklabels()]
    assert len(labels) == len(STAGES)


def test_empty_funnel_says_so():
    for funnel in (funnel_of(dict.fromkeys(STAGES, 0)), funnel_of({})):
        fig = plots.plot_funnel(funnel)
        assert "funnel is empty" in texts(fig)
        assert not fig.axes[0].patches and flat(fig.axes[0].get_title())


# ----- run figures -------------------------------------------------------------------------------


def test_figures_of_summary_columns_with_categories(patients, synthetic_tables, tmp_path):
    tables = {"patients": summary_only(patients), "funnel": synthetic_tables["funnel"]}
    paths = plots.save_figures(tables, tmp_path)
    assert [p.name for p in paths] == list(plots.FIGURE_FILES)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    for fig in plots.render_figures(tables).values():
        assert flat(fig.axes[0].get_title())


def test_figures_of_an_eventless_cohort_say_so(patients, tmp_path):
    p = patients.assign(metastasis_sites="", first_metastasis_sites="", dmfs_event=False, os_event=False,
                        dmfs_days=3652.5, os_days=3652.5, M="M0")
    figs = plots.render_figures({"patients": summary_only(p), "funnel": funnel_of(dict.fromkeys(STAGES, 0))})
    assert "no distant relapses" in texts(figs["sites.png"])
    assert "funnel is empty" in texts(figs["funnel.png"])
    assert "events = 0" in texts(figs["km_dmfs.png"])


def test_summary_prints_a_cohort_without_relapses(patients, synthetic_tables):
    p = patients.assign(metastasis_sites="", first_metastasis_sites="", dmfs_event=False, M="M0")
    scenario, params = load_scenario("default")
    res = Result(scenario=scenario, params=params, seed=1, engine="fast", timings={},
                 patients=p, lesions=synthetic_tables["lesions"].iloc[:0], funnel=synthetic_tables["funnel"])
    console = Console(record=True, width=160)
    print_summary(res, console)
    text = console.export_text()
    assert "no distant relapses" in text and "0 (0.0%)" in text


@pytest.mark.slow
def test_figures_of_a_million_patients_are_fast():
    rng = np.random.default_rng(2)
    n = MILLION
    site_texts = np.array(["", "", "", "", "bone", "bone;liver", "lung", "brain;lung", "ovary"], dtype=object)
    sites = site_texts[rng.integers(0, len(site_texts), n)]
    t = rng.exponential(6000.0, n)
    p = pd.DataFrame({
        "patient_id": np.arange(n), "subtype": np.array(SUBTYPES, dtype=object)[rng.integers(0, 4, n)],
        "M": np.where(rng.random(n) < 0.03, "M1", "M0").astype(object),
        "dmfs_days": np.minimum(t, 3652.5), "dmfs_event": t < 3652.5,
        "os_days": np.minimum(t * 1.3, 3652.5), "os_event": t * 1.3 < 3652.5,
        "first_metastasis_sites": sites, "metastasis_sites": sites,
    })
    tables = {"patients": summary_only(p), "funnel": funnel_of(CASCADE)}
    start = time.perf_counter()
    figs = plots.render_figures(tables)
    took = time.perf_counter() - start
    assert took < MILLION_BUDGET_S, f"{took:.1f} s for the figures of a million patients"
    assert "excluded" in flat(figs["km_dmfs.png"].axes[0].get_title())
