"""One self-contained HTML report of a result folder (issue 13 part 1): a run, a trial, a
validation or a set of virtual twins. Figures are embedded as PNG data (no file or network
access is needed to open it); tables are plain HTML; nothing is fetched.

A run's report: the manifest, the scenario's changes from the defaults, the cohort (stage, pT, pN,
subtypes, therapies), Kaplan-Meier DFS, DMFS and OS by subtype and DMFS and OS by stage with
numbers at risk, sites of relapse by subtype, the cascade funnel, survival after relapse by the
organ of first relapse, and a few patients' journeys."""

from __future__ import annotations

import base64
import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil._version import __version__
from seedsoil.interfaces.store import FORMAT_NAME, MANIFEST, WORK_DIR, atomic_write

REPORT_FILE = "report.html"
JOURNEYS = 3
"""Patients whose journeys a run's report tells: the first who relapses in each of the commonest subtypes."""
THERAPY_COLUMNS = ("endocrine", "chemotherapy", "anti_her2", "her2_tki", "bone_agent", "radiotherapy")
CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { border-bottom: 2px solid #4c72b0; padding-bottom: .2em; }
h2 { margin-top: 2em; color: #2b4a7a; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #eef2f8; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: .5em 0 1.5em; }
.note { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: .8em; white-space: pre-wrap; font-size: 0.85em; }
.fail { color: #b00; font-weight: bold; }
"""


class ReportError(ValueError):
    """A folder that holds nothing to report on (or a half-written or newer result): one line."""


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _check_version(folder: Path, written_by: str | None) -> None:
    if written_by and _version_tuple(written_by) > _version_tuple(__version__):
        raise ReportError(f"{folder}: written by seedsoil {written_by}, newer than this seedsoil {__version__}; "
                          "upgrade seedsoil to report on it")


def kind_of(folder: Path) -> str:
    """What ``folder`` holds: "run", "trial", "validation" or "twins"; a ReportError otherwise."""
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    if (folder / WORK_DIR).exists():
        raise ReportError(f"{folder} holds a half-written run ({WORK_DIR}): finish it with the same `seedsoil run` "
                          "command and --resume, then report")
    if (folder / MANIFEST).exists():
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise ReportError(f"{folder / MANIFEST}: not readable JSON; not a finished seedsoil run") from None
        if manifest.get("format") != FORMAT_NAME:
            raise ReportError(f"{folder / MANIFEST}: not a seedsoil run manifest")
        _check_version(folder, manifest.get("seedsoil_version"))
        return "run"
    for name, kind in (("trial_summary.json", "trial"), ("validation.json", "validation"),
                       ("twins_summary.json", "twins")):
        if (folder / name).exists():
            try:
                meta = json.loads((folder / name).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                raise ReportError(f"{folder / name}: not readable JSON") from None
            written_by = meta.get("seedsoil_version") or (meta.get("meta") or {}).get("seedsoil_version")
            _check_version(folder, written_by)
            return kind
    if (folder / "patients.parquet").exists():
        raise ReportError(f"{folder} holds tables but no {MANIFEST}: a half-written or interrupted run; run it again "
                          "with --resume (or --overwrite)")
    raise ReportError(f"{folder} holds no seedsoil run, trial, validation or twins result (no {MANIFEST}, "
                      "trial_summary.json, validation.json or twins_summary.json)")


def _img(src: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{src}">'


def _fig(fig, alt: str) -> str:
    from seedsoil.interfaces.plots import png_data_url

    return _img(png_data_url(fig), alt)


def _file_img(path: Path, alt: str) -> str:
    return _img("data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"), alt)


def _table(df: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    return df.to_html(index=False, escape=True, border=0, na_rep="",
                      float_format=lambda x: floatfmt.format(x) if math.isfinite(x) else "")


def _page(title: str, body: list[str]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n" + "\n".join(body)
            + f"\n<p class=\"note\">Written by seedsoil {__version__} on {stamp}; self-contained (figures embedded, "
              "nothing fetched).</p>\n</body></html>\n")


def _shares(p: pd.DataFrame, col: str) -> pd.DataFrame:
    counts = p[col].astype(str).value_counts().sort_index()
    return pd.DataFrame({col: counts.index, "patients": counts.to_numpy(),
                         "%": 100.0 * counts.to_numpy() / max(len(p), 1)})


def _scenario_changes(scenario, params) -> pd.DataFrame:
    """Every way the run's scenario differs from the built-in defaults (keys, values, defaults)."""
    from seedsoil.params import default_parameters
    from seedsoil.scenario import Scenario

    rows = []
    base = Scenario().model_dump(mode="json")
    mine = scenario.model_dump(mode="json")
    for section in ("cohort", "treatment", "measurements"):
        for k, v in (mine.get(section) or {}).items():
            if v != (base.get(section) or {}).get(k):
                rows.append({"key": f"{section}.{k}", "value": str(v), "default": str(base[section].get(k))})
    if mine.get("clones") != base.get("clones"):
        rows.append({"key": "clones", "value": json.dumps(mine["clones"]), "default": json.dumps(base["clones"])})
    defaults = default_parameters()
    for k in sorted(params):
        if params[k] != defaults[k]:
            rows.append({"key": f"parameters.{k}", "value": f"{params[k]:g}", "default": f"{defaults[k]:g}"})
    return pd.DataFrame(rows, columns=["key", "value", "default"])


def cohort_figures(patients: pd.DataFrame, funnel: pd.DataFrame) -> list[tuple[str, str, object]]:
    """The cohort figures a run's report and the dashboard show, as (section, title, figure):
    DFS, DMFS and OS by subtype, DMFS and OS by stage, sites of relapse, the cascade funnel."""
    from seedsoil.analysis.survival import ENDPOINT_LABELS
    from seedsoil.interfaces import plots

    out = [("Survival", f"{ENDPOINT_LABELS[ep]} by subtype", plots.plot_km(patients, ep))
           for ep in ("dfs", "dmfs", "os")]
    out += [("Survival", f"{ENDPOINT_LABELS[ep]} by stage", plots.plot_km(patients, ep, by="stage"))
            for ep in ("dmfs", "os")]
    return out + [("Sites of relapse", "Sites of relapse by subtype", plots.plot_sites(patients)),
                  ("The metastatic cascade", "The metastatic cascade",
                   plots.plot_funnel(funnel, patients=len(patients)))]


def after_relapse_by_site(p: pd.DataFrame) -> pd.DataFrame:
    """Median survival (KM, years) after the first distant relapse, by organ among its first sites."""
    from seedsoil.analysis.survival import km_median
    from seedsoil.analysis.therapy_effects import has_site

    rel = p[p["distant_metastasis_day"].notna() & (p["M"].astype(str) == "M0")]
    rows = []
    organs = sorted({o for s in rel["first_metastasis_sites"].astype(str) for o in s.split(";") if o})
    for organ in organs:
        g = rel[has_site(rel["first_metastasis_sites"], organ).to_numpy()]
        if len(g) < 5:
            continue
        days = np.clip(g["os_days"].to_numpy(float) - g["distant_metastasis_day"].to_numpy(float), 0, None)
        rows.append({"organ among first sites": organ, "patients": len(g), "deaths": int(g["os_event"].sum()),
                     "median OS after relapse (years)": km_median(days, g["os_event"].to_numpy(bool))})
    return pd.DataFrame(rows)


def _journeys(result, p: pd.DataFrame) -> list[str]:
    from seedsoil.interfaces.journey import journey

    out = []
    rel = p[p["distant_metastasis_day"].notna()]
    for subtype in rel["subtype"].astype(str).value_counts().index[:JOURNEYS]:
        pid = int(rel.loc[rel["subtype"].astype(str) == subtype, "patient_id"].iloc[0])
        try:
            j = journey(result.scenario, result.params, result.engine, result.seed, pid)
        except ValueError as err:  # pragma: no cover - a stored run always re-simulates
            out.append(f"<p class=\"note\">patient {pid}: {html.escape(str(err))}</p>")
            continue
        out.append(f"<h3>Patient {pid} ({html.escape(subtype)})</h3><pre>{html.escape(j.story())}</pre>"
                   + _fig(j.figure(), f"journey of patient {pid}"))
    return out


def run_report(folder: Path) -> str:
    from seedsoil.interfaces.results import Result

    result = Result.load(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    p = result.patients
    n = len(p)
    body = ["<h2>Run</h2>", _table(pd.DataFrame([
        {"item": "seedsoil version", "value": manifest.get("seedsoil_version")},
        {"item": "scenario", "value": result.scenario.name},
        {"item": "engine", "value": result.engine}, {"item": "seed", "value": result.seed},
        {"item": "patients", "value": f"{n:,}"}, {"item": "parameter hash", "value": manifest.get("parameter_hash")},
        *({"item": f"time: {k}", "value": f"{v:.1f} s"} for k, v in (manifest.get("timings") or {}).items()),
    ]))]
    changes = _scenario_changes(result.scenario, result.params)
    body += ["<h2>Scenario</h2>", f"<p>{html.escape(result.scenario.description or result.scenario.name)}</p>",
             _table(changes) if len(changes) else "<p>The built-in defaults, unchanged.</p>"]
    body += ["<h2>Cohort</h2>"]
    for col in ("stage", "pT", "pN", "subtype", "histology"):
        body.append(_table(_shares(p, col), "{:.1f}"))
    therapy = pd.DataFrame([{"therapy": t, "patients": int(p[t].sum()), "%": 100.0 * p[t].mean()}
                            for t in THERAPY_COLUMNS])
    body.append(_table(therapy, "{:.1f}"))
    section = None
    for heading, title, fig in cohort_figures(p, result.funnel):
        if heading != section:
            body.append(f"<h2>{heading}</h2>")
            section = heading
        body.append(_fig(fig, title))
    body.append("<h2>Survival after relapse by site</h2>")
    by_site = after_relapse_by_site(p)
    body.append(_table(by_site) if len(by_site) else "<p>No distant relapse in this run.</p>")
    body += ["<h2>A few patients' journeys</h2>", *(_journeys(result, p) or ["<p>No patient relapsed.</p>"])]
    return _page(f"seedsoil report: {result.scenario.name} ({n:,} patients)", body)


def trial_report(folder: Path) -> str:
    sm = json.loads((folder / "trial_summary.json").read_text(encoding="utf-8"))
    body = [f"<p>{html.escape(sm.get('description', ''))}</p>", "<h2>Design</h2>",
            _table(pd.DataFrame([{"item": k, "value": str(v)} for k, v in sm.get("design", {}).items()])),
            "<h2>Arms</h2>", _table(pd.DataFrame([{k: str(v) if isinstance(v, dict) else v for k, v in a.items()}
                                                 for a in sm.get("arms", [])])),
            "<h2>Hazard ratios (Cox) and log-rank tests</h2>"]
    rows = []
    for ep, comps in sm.get("endpoints", {}).items():
        for c in comps:
            rows.append({"endpoint": ep, "comparison": f"{c.get('arm')} vs {c.get('control')}", "HR": c.get("hr"),
                         "95% low": c.get("hr_low"), "95% high": c.get("hr_high"), "log-rank p": c.get("p_logrank")})
    body.append(_table(pd.DataFrame(rows).astype({k: float for k in ("HR", "95% low", "95% high", "log-rank p")})))
    if "power" in sm:
        prow = [{"endpoint": ep, "arm": arm, **v} for ep, arms in sm["power"].items() for arm, v in arms.items()]
        body += ["<h2>Power over repeats</h2>", _table(pd.DataFrame(prow))]
    body.append("<h2>Kaplan-Meier curves by arm</h2>")
    body += [_file_img(f, f.stem) for f in sorted(folder.glob("km_*.png"))]
    return _page(f"seedsoil trial report: {sm.get('trial', folder.name)}", body)


def validation_report(folder: Path) -> str:
    table = pd.read_csv(folder / "validation.csv")
    cols = [c for c in ("target_id", "short_source", "published", "simulated", "ci_low", "ci_high", "accept_low",
                        "accept_high", "passed") if c in table.columns]
    body = [f"<p>{int(table['passed'].sum())} of {len(table)} targets pass.</p>", _table(table[cols]),
            "<h2>Published vs simulated, by theme</h2>"]
    body += [_file_img(f, f.stem) for f in sorted(folder.glob("validation_*.png"))]
    return _page("seedsoil validation report", body)


def twins_report(folder: Path) -> str:
    sm = json.loads((folder / "twins_summary.json").read_text(encoding="utf-8"))
    rows = [{"endpoint": ep, "twins": e["n"], "events": e["events"], "median (years)": e["median_years"],
             **{f"{x['years']} y": x["survival"] for x in e["survival"]}} for ep, e in sm["endpoints"].items()]
    body = [f"<p>{sm['rows_matched']} of {sm['rows']} rows x {sm['replicates']} replicates; "
            f"{html.escape(sm['conditioning']['method'])}.</p>", _table(pd.DataFrame(rows))]
    if (folder / "twins_rows.csv").exists():
        body += ["<h2>Rows</h2>", _table(pd.read_csv(folder / "twins_rows.csv"))]
    body += [_file_img(f, f.stem) for f in sorted(folder.glob("km_twins.png"))]
    return _page("seedsoil virtual twins report", body)


REPORTERS = {"run": run_report, "trial": trial_report, "validation": validation_report, "twins": twins_report}


def write_report(folder: str | Path) -> Path:
    """Write ``folder/report.html`` for the result ``folder`` holds; a ReportError otherwise."""
    folder = Path(folder)
    text = REPORTERS[kind_of(folder)](folder)
    path = folder / REPORT_FILE
    atomic_write(path, lambda f: f.write_text(text, encoding="utf-8"))
    return path
