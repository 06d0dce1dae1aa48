"""``seedsoil validate``: the default model against every published target, as a table, a
JSON copy and one figure per theme.

The targets and the functions that compute them are :mod:`seedsoil.analysis.targets` (the
table ``targets.csv``); this module runs the default scenario with :func:`seedsoil.run`
(streamed into a run folder: a temporary one, or ``OUT/run``), runs the mouse assays, evaluates
every target and writes ``validation.csv``, ``validation.json`` and ``validation_<theme>.png``.

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

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from seedsoil._version import __version__
from seedsoil.analysis.targets import (
    BOOT, DEFAULT_SEED, THEME_TITLES, THEMES, Assays, Cohort, Target, evaluate, load_targets,
)

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
PASS_COLOUR, FAIL_COLOUR, BAND_COLOUR = "#1a9850", "#d73027", "#d9d9d9"
PASS_RULE = "a target passes when the simulated point value lies in its tolerance band (bounds included)"
INTERVALS = ("95% Monte-Carlo intervals: Wilson for shares, bootstrap (resampling patients) for medians and the "
             "lesion-level ER+ share, Wald for the TMEM odds ratio, replicate seeds for the cluster potential")

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
        who = (f"default scenario, {self.meta['patients']:,} patients, seed {self.meta['seed']}" if theme != "mouse"
               else f"default parameters, seed {self.meta['seed']}")
        n_pass = int(rows["passed"].sum())
        fig.suptitle(f"{THEME_TITLES.get(theme, theme)}: published vs simulated ({who}); "
                     f"{n_pass} of {len(rows)} pass", fontsize="medium")
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
    who = f"default scenario, {m['patients']:,} patients, seed {m['seed']}" if m["patients"] else f"seed {m['seed']}"
    table = Table(title=f"Validation ({who}): {v.passed} of {len(v.table)} targets pass",
                  caption=f"{INTERVALS}; {PASS_RULE}.")
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
        ax.fill_betweenx([yy - 0.32, yy + 0.32], lo, hi if math.isfinite(hi) else right, color=BAND_COLOUR, lw=0,
                         zorder=1)
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


def _run_cohort(folder: Path, patients: int, seed: int, workers: int | None, resume: bool,
                progress: Progress | None) -> dict[str, pd.DataFrame]:
    import seedsoil

    seedsoil.run(SCENARIO, folder, patients=patients, seed=seed, workers=workers, resume=resume, progress=progress)
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("patients", "lesions", "funnel")}
    return tables


def validate(patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, workers: int | None = None,
             out: str | Path | None = None, *, targets: Iterable[Target] | None = None, boot: int = BOOT,
             progress: Progress | None = None) -> Validation:
    """Run the default scenario (``patients``, ``seed``, ``workers``) into ``OUT/run`` (resumed or
    reused when it holds the same run) or a temporary folder, run the mouse assays, and evaluate
    ``targets`` (default: every packaged target). The cohort is simulated only when a cohort target
    is asked for. Files are not written here: call :meth:`Validation.save`."""
    chosen = tuple(targets) if targets is not None else load_targets()
    need_cohort = any(t.family == "cohort" for t in chosen)
    t0 = time.perf_counter()
    cohort = None
    run_s = 0.0
    if need_cohort:
        if out is not None:
            folder = Path(out) / RUN_FOLDER
            resume = folder.is_dir() and any(folder.iterdir())
            tables = _run_cohort(folder, patients, seed, workers, resume, progress)
        else:
            with tempfile.TemporaryDirectory(prefix="seedsoil-validate-") as tmp:
                tables = _run_cohort(Path(tmp) / RUN_FOLDER, patients, seed, workers, False, progress)
        run_s = time.perf_counter() - t0
        cohort = Cohort(tables["patients"], tables["lesions"], tables["funnel"], seed=seed, boot=boot)
    table = evaluate(chosen, cohort, Assays(seed))
    meta = {
        "seedsoil_version": __version__, "scenario": SCENARIO, "patients": int(patients) if need_cohort else 0,
        "seed": int(seed), "workers": workers, "bootstrap_resamples": int(boot),
        "run_folder": str((Path(out) / RUN_FOLDER).resolve()) if (out is not None and need_cohort) else None,
        "intervals": INTERVALS, "pass_rule": PASS_RULE,
        "timings_s": {"run": round(run_s, 2), "analysis": round(time.perf_counter() - t0 - run_s, 2)},
    }
    return Validation(table=table, meta=meta, targets=chosen)


__all__ = ["CSV_FILE", "DEFAULT_PATIENTS", "FIGURE_FILE", "JSON_FILE", "Validation", "print_table", "validate"]
