"""``seedsoil validate``: the default model against every published target, as a table, a
JSON copy and one figure per theme.

The targets and the functions that compute them are :mod:`seedsoil.analysis.targets` (the
table ``targets.csv``); this module runs the default scenario and the treatment variants the
chosen targets read (:data:`seedsoil.analysis.targets.RUNS`: each once, all with the same
patients and seed, so that treatment arms are paired) with :func:`seedsoil.run` (streamed into
run folders: temporary ones, or ``OUT/run/<run name>``), runs the mouse assays, evaluates every
target and writes ``validation.csv``, ``validation.json`` and ``validation_<theme>.png``.

>>> from seedsoil.analysis.targets import load_targets
>>> v = validate(targets=[t for t in load_targets() if t.target_id == "mouse.fidler.alive_24h"])
>>> (len(v.table), v.meta["patients"])
(1, 0)
"""

from __future__ import annotations

import json
import math
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from seedsoil._version import __version__
from seedsoil.analysis.targets import (
    BOOT, DEFAULT_RUN, DEFAULT_SEED, RUNS, THEME_TITLES, THEMES, Assays, Cohort, Target, evaluate, load_targets,
    run_description, runs_needed,
)

if TYPE_CHECKING:
    from seedsoil.scenario import Scenario

DEFAULT_PATIENTS = 20_000
SCENARIO = "default"
RUN_FOLDER = "run"
CSV_FILE = "validation.csv"
JSON_FILE = "validation.json"
FIGURE_FILE = "validation_{theme}.png"
DPI = 120
PNG_METADATA = {"Software": None}
ROW_IN = 0.42
"""Figure height per target row (inches)."""
LABEL_CHARS = 34
TITLE_CHARS = 110
"""Figure titles wrap at this many characters."""
TITLE_RUNS = 4
"""A figure title names the runs its theme reads up to this many, and counts them beyond."""
PASS_COLOUR, FAIL_COLOUR, BAND_COLOUR = "#1a9850", "#d73027", "#d9d9d9"
PASS_RULE = "a target passes when the simulated point value lies in its tolerance band (bounds included)"
INTERVALS = ("95% Monte-Carlo intervals: Wilson for shares, bootstrap (resampling patients) for medians, "
             "Kaplan-Meier risks and the lesion-level ER+ share, paired bootstrap (the same patients in both arms) for "
             "rate ratios and risk differences between treatment arms, Wald for the TMEM odds ratio and the nodal "
             "hazard ratios, replicate seeds for the cluster potential")
TABLES = ("patients", "lesions", "funnel")
"""Tables of each run folder that the cohort targets read."""

Progress = Callable[[int, int], None]


@dataclass
class Validation:
    """Every target's simulated value beside its published one (``table``) and what ran (``meta``)."""

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)
    targets: tuple[Target, ...] = ()

    @property
    def passed(self) -> int:
        return int(self.table["passed"].sum())

    @property
    def failed(self) -> int:
        return int((~self.table["passed"].astype(bool)).sum())

    @property
    def all_passed(self) -> bool:
        return self.failed == 0

    def themes(self) -> list[str]:
        present = set(self.table["theme"])
        return [t for t in THEMES if t in present]

    def to_dict(self) -> dict:
        rows = [{k: _plain(v) for k, v in r.items()} for r in self.table.to_dict("records")]
        return {"meta": self.meta, "summary": {"targets": len(rows), "passed": self.passed, "failed": self.failed},
                "targets": rows}

    def figure(self, theme: str) -> Figure:
        """Published (diamond, with its tolerance band in grey) against simulated (dot, with its
        95% interval; green passes, red fails), one row per target, one panel per unit."""
        by_target = {t.target_id: t for t in self.targets}
        rows = self.table[self.table["theme"] == theme]
        units = list(dict.fromkeys(rows["unit"]))
        heights = [int((rows["unit"] == u).sum()) for u in units]
        fig = Figure(figsize=(10.0, ROW_IN * sum(heights) + 0.9 * len(units) + 1.4), dpi=DPI, layout="constrained")
        axes = fig.subplots(len(units), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, unit in zip(axes, units):
            _panel(ax, rows[rows["unit"] == unit], unit, by_target)
        handles = [Patch(color=BAND_COLOUR, label="tolerance band"),
                   Line2D([], [], marker="D", color="black", ls="", label="published"),
                   Line2D([], [], marker="o", color=PASS_COLOUR, ls="", label="simulated, passes (95% interval)"),
                   Line2D([], [], marker="o", color=FAIL_COLOUR, ls="", label="simulated, fails (95% interval)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize="small", frameon=False)
        runs = [r for r in RUNS if r in {x for v in rows["runs"] for x in str(v).split(";") if x}]
        if theme == "mouse" or not runs:
            who = f"default parameters, seed {self.meta['seed']}"
        else:
            if runs == [DEFAULT_RUN]:
                which = "default scenario"
            elif len(runs) <= TITLE_RUNS:
                which = f"default scenario, runs {', '.join(runs)}"
            else:
                which = f"default scenario, {len(runs)} treatment runs (validation.json: meta.runs)"
            each = " each" if len(runs) > 1 else ""
            who = f"{which}, {self.meta['patients']:,} patients{each}, seed {self.meta['seed']}"
        n_pass = int(rows["passed"].sum())
        title = f"{THEME_TITLES.get(theme, theme)}: published vs simulated ({who}); {n_pass} of {len(rows)} pass"
        fig.suptitle("\n".join(textwrap.wrap(title, TITLE_CHARS)), fontsize="medium")
        return fig

    def save(self, out: str | Path) -> list[Path]:
        """Write validation.csv, validation.json and one PNG per theme into ``out``; return the paths."""
        from seedsoil.interfaces.store import atomic_write, remove_stale_temporaries

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        written = []
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        atomic_write(folder / CSV_FILE, lambda p: self.table.to_csv(p, index=False))
        atomic_write(folder / JSON_FILE, lambda p: p.write_text(text, encoding="utf-8"))
        written += [folder / CSV_FILE, folder / JSON_FILE]
        for theme in self.themes():
            fig = self.figure(theme)
            path = folder / FIGURE_FILE.format(theme=theme)
            atomic_write(path, lambda p, fig=fig: fig.savefig(p, format="png", metadata=PNG_METADATA))
            written.append(path)
        return written


def print_table(v: Validation, console) -> None:
    """The validation table on a rich console: one section per theme, failures in red."""
    from rich.table import Table
    from rich.text import Text

    by_target = {t.target_id: t for t in v.targets}
    m = v.meta
    runs = list(m.get("runs", {}))
    if not m["patients"]:
        who = f"seed {m['seed']}"
    elif len(runs) > 1:
        who = f"default scenario, {len(runs)} treatment runs, {m['patients']:,} patients each, seed {m['seed']}"
    else:
        who = f"default scenario, {m['patients']:,} patients, seed {m['seed']}"
    legend = f" Runs: {'; '.join(run_description(r) for r in runs)}." if runs and runs != [DEFAULT_RUN] else ""
    table = Table(title=f"Validation ({who}): {v.passed} of {len(v.table)} targets pass",
                  caption=f"{INTERVALS}; {PASS_RULE}.{legend}")
    table.add_column("target", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("simulated [95% interval]", justify="right", no_wrap=True)
    table.add_column("published", justify="right", no_wrap=True)
    table.add_column("tolerance", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    themes = v.themes()
    for i, theme in enumerate(themes):
        rows = v.table[v.table["theme"] == theme].to_dict("records")
        for j, r in enumerate(rows):
            t = by_target[r["target_id"]]
            ok = bool(r["passed"])
            table.add_row(Text(r["target_id"]), Text(r["short_source"]),
                          t.format_estimate(r["simulated"], r["ci_low"], r["ci_high"]), t.published_text,
                          Text(t.tolerance_text), Text("pass", style="green") if ok else Text("FAIL", style="bold red"),
                          end_section=(j == len(rows) - 1 and i < len(themes) - 1))
    console.print(table)


def _plain(v):
    """A JSON-safe scalar: NaN and infinities become null."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def _panel(ax, rows: pd.DataFrame, unit: str, by_target: dict[str, Target]) -> None:
    n = len(rows)
    y = np.arange(n)[::-1].astype(float)
    values = pd.concat([rows["simulated"], rows["ci_low"], rows["ci_high"], rows["published"], rows["accept_low"],
                        rows["accept_high"]]).to_numpy(float)
    finite = values[np.isfinite(values)]
    log = bool(len(finite) and (finite > 0).all() and finite.max() / finite.min() > 100)
    lo_all = finite.min() if len(finite) else 0.0
    hi_all = finite.max() if len(finite) else 1.0
    if log:
        left, right = lo_all / 2, hi_all * 2
    else:
        pad = 0.06 * (hi_all - lo_all or 1.0)
        left, right = (max(lo_all - pad, 0.0) if lo_all >= 0 else lo_all - pad), hi_all + pad
    for yy, r in zip(y, rows.to_dict("records")):
        lo, hi = r["accept_low"], r["accept_high"]
        ax.fill_betweenx([yy - 0.32, yy + 0.32], lo if math.isfinite(lo) else left, hi if math.isfinite(hi) else right,
                         color=BAND_COLOUR, lw=0, zorder=1)
        if math.isfinite(r["published"]):
            ax.plot(r["published"], yy, "D", color="black", ms=6, zorder=3)
        colour = PASS_COLOUR if r["passed"] else FAIL_COLOUR
        if math.isfinite(r["simulated"]):
            err = None
            if math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"]):
                err = [[max(r["simulated"] - r["ci_low"], 0.0)], [max(r["ci_high"] - r["simulated"], 0.0)]]
            ax.errorbar(r["simulated"], yy, xerr=err, fmt="o", color=colour, ms=6, capsize=3, lw=1.5, zorder=4)
            t = by_target.get(r["target_id"])
            label = t.format(r["simulated"]) if t else f"{r['simulated']:.3g}"
            ax.annotate(label, (r["simulated"], yy), xytext=(0, 7), textcoords="offset points", ha="center",
                        fontsize=7, color=colour, zorder=5)
        else:
            ax.text(left, yy, "  n/a", va="center", fontsize=8, color=FAIL_COLOUR)
    one_source = rows["short_source"].nunique() == 1
    labels = [r["label"] if one_source else f"{r['label']} ({r['short_source']})" for r in rows.to_dict("records")]
    ax.set_yticks(y, ["\n".join(textwrap.wrap(s, LABEL_CHARS)) for s in labels], fontsize=8.5)
    if one_source:
        ax.set_title(f"source: {rows['short_source'].iloc[0]}", fontsize=8, loc="left")
    ax.set_ylim(-0.7, n - 0.3)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(left, right)
    name = {"%": "percent", "fraction": "fraction of injected cells"}.get(unit, unit)
    ax.set_xlabel(name + (" (log scale)" if log else ""), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3, zorder=0)


def variant_scenario(run: str) -> Scenario:
    """The default scenario with run ``run``'s ``[treatment]`` overrides (:data:`RUNS`), validated."""
    from seedsoil.scenario import Treatment, load_builtin

    sc = load_builtin(SCENARIO)[0]
    overrides = RUNS[run]
    if not overrides:
        return sc
    treatment = Treatment.model_validate({**sc.treatment.model_dump(), **overrides})
    return sc.model_copy(update={"treatment": treatment})


def _run_cohort(scenario, folder: Path, patients: int, seed: int, workers: int | None, resume: bool,
                progress: Progress | None) -> tuple[dict[str, pd.DataFrame], int]:
    """Run ``scenario`` into ``folder``; return its tables (:data:`TABLES`) and its ``nodes.sentinel_count``."""
    import seedsoil

    res = seedsoil.run(scenario, folder, patients=patients, seed=seed, workers=workers, resume=resume,
                       progress=progress)
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    return tables, int(res.params["nodes.sentinel_count"])


def _check_layout(base: Path) -> None:
    """OUT/run holds one folder per run; a run folder of the one-run layout (files in OUT/run
    itself) is another run than this validation's."""
    from seedsoil.interfaces.store import RunFolderError

    if base.is_dir() and any(p.is_file() for p in base.iterdir()):
        raise RunFolderError(f"{base} holds a run folder itself, not one folder per run")


def _offset(progress: Progress | None, before: int, total: int) -> Progress | None:
    """Progress of one run as progress of all: patients of earlier runs count as done."""
    if progress is None:
        return None
    return lambda done, _n: progress(before + done, total)


def validate(patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, workers: int | None = None,
             out: str | Path | None = None, *, targets: Iterable[Target] | None = None, boot: int = BOOT,
             progress: Progress | None = None) -> Validation:
    """Run the default scenario and the treatment variants ``targets`` read (default: every
    packaged target; :func:`~seedsoil.analysis.targets.runs_needed`), each once with the same
    ``patients``, ``seed`` and ``workers``, into ``OUT/run/<run name>`` (resumed or reused when it
    holds the same run) or temporary folders; run the mouse assays; evaluate the targets. Only
    the runs some chosen target reads are simulated (none without a cohort target). ``progress``
    gets (patients done, patients of all runs). Files are not written here: call
    :meth:`Validation.save`."""
    chosen = tuple(targets) if targets is not None else load_targets()
    runs = runs_needed(chosen)
    t0 = time.perf_counter()
    cohorts: dict[str, Cohort] = {}
    run_meta: dict[str, dict] = {}
    base = Path(out) / RUN_FOLDER if out is not None else None
    if base is not None and runs:
        _check_layout(base)
    for i, name in enumerate(runs):
        t_run = time.perf_counter()
        report = _offset(progress, i * patients, len(runs) * patients)
        if base is not None:
            folder = base / name
            resume = folder.is_dir() and any(folder.iterdir())
            tables, sentinel = _run_cohort(variant_scenario(name), folder, patients, seed, workers, resume, report)
        else:
            with tempfile.TemporaryDirectory(prefix=f"seedsoil-validate-{name}-") as tmp:
                tables, sentinel = _run_cohort(variant_scenario(name), Path(tmp) / RUN_FOLDER, patients, seed, workers,
                                               False, report)
        cohorts[name] = Cohort(tables["patients"], tables["lesions"], tables["funnel"], seed=seed, boot=boot,
                               sentinel_count=sentinel)
        run_meta[name] = {"treatment": {k: v for k, v in RUNS[name].items()},
                          "folder": str((base / name).resolve()) if base is not None else None,
                          "run_s": round(time.perf_counter() - t_run, 2)}
    run_s = time.perf_counter() - t0
    table = evaluate(chosen, cohorts if runs else None, Assays(seed))
    meta = {
        "seedsoil_version": __version__, "scenario": SCENARIO, "patients": int(patients) if runs else 0,
        "seed": int(seed), "workers": workers, "bootstrap_resamples": int(boot),
        "run_folder": str(base.resolve()) if (base is not None and runs) else None,
        "runs": run_meta, "intervals": INTERVALS, "pass_rule": PASS_RULE,
        "timings_s": {"run": round(run_s, 2), "analysis": round(time.perf_counter() - t0 - run_s, 2),
                      "runs": {name: m["run_s"] for name, m in run_meta.items()}},
    }
    return Validation(table=table, meta=meta, targets=chosen)


__all__ = ["CSV_FILE", "DEFAULT_PATIENTS", "FIGURE_FILE", "JSON_FILE", "Validation", "print_table", "validate",
           "variant_scenario"]
