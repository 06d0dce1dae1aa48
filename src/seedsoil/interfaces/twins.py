"""Virtual twins of real patients: each row of a table of observed patients simulated ``R`` times,
conditioned on what was seen at diagnosis.

Conditioning is by rejection, so it is exact: a candidate twin has every observed covariate
exactly (tumour diameter, age, receptors, grade, histology, menopausal status; the subtype and
anything unobserved drawn from the cohort model given the observed, :func:`sample_conditional`)
and her own unobserved biology (doubling time, TMEM density, lymphovascular invasion); the
engine then simulates her lymphatic and blood-borne spread until surgery, and she is kept only
if the axillary surgery of the clinic finds exactly the observed number of positive nodes (and
the observed pN, where given). The node count therefore comes from the simulated spread of a
tumour of that size, and what made it (invasion, growth) carries over to distant relapse.
Candidates are simulated in rounds, more for rows that are rarely matched, up to
``max_candidates`` per row; a row the model cannot match is refused or, when asked, skipped.
Kept twins then get the observed adjuvant therapies (the rest by the scenario's guideline) and
the observed follow-up, and run through the clinic like any patient."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil._version import __version__
from seedsoil.analysis.survival import DAYS_PER_YEAR, ENDPOINTS, endpoint_columns, endpoint_km
from seedsoil.clinic.course import rank_in_group
from seedsoil.clinic.guideline import TreatmentPlan
from seedsoil.engine.covariates import primary_growth, sample_conditional
from seedsoil.engine.start import CohortStart
from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, block_rng
from seedsoil.interfaces.execution import Progress, _model, to_arrow_table
from seedsoil.interfaces.store import json_writer, write_files
from seedsoil.interfaces.twins_input import TwinsTable
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario

TWINS_STREAM = 1 << 24
"""Random-stream block keys of twin candidates start here, apart from a run's blocks."""
FIRST_FOLD = 4
"""Candidates per twin still needed in the first round (most rows are matched by a third of them)."""
ROUND_FOLD = 8
"""Each further round simulates this many times more candidates per twin still needed."""
DEFAULT_MAX_CANDIDATES = 100_000
"""Candidates simulated for one row at most before it is declared unmatched."""
SUMMARY_YEARS = (1, 2, 3, 5, 10, 15, 20)


class TwinsMatchError(ValueError):
    """A row whose positive node count the model does not produce often enough to be matched."""


@dataclass
class TwinsResult:
    """The twins (``patients``: one row per input row and replicate, with ``row_id`` and
    ``replicate`` first; ``lesions``: their detected metastases), per-row matching and outcomes
    (``rows``) and the summary written as twins_summary.json."""

    patients: pd.DataFrame
    lesions: pd.DataFrame
    rows: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write patients.parquet, lesions.parquet, twins_rows.csv, twins_summary.json and
        km_twins.png into ``out``, each file complete or absent (written aside, then renamed)."""
        from seedsoil.interfaces.plots import twins_figure, write_figure

        return write_files(Path(out), {
            "patients.parquet": lambda f: self.patients.to_parquet(f, index=False),
            "lesions.parquet": lambda f: self.lesions.to_parquet(f, index=False),
            "twins_rows.csv": lambda f: self.rows.to_csv(f, index=False),
            "twins_summary.json": json_writer(self.summary),
            "km_twins.png": lambda f: write_figure(twins_figure(self.patients), f),
        })


def _fixed_plan(plan: TreatmentPlan, table: TwinsTable, rows: np.ndarray, m1: np.ndarray,
                endocrine_years: float) -> TreatmentPlan:
    """The plan with each twin's observed adjuvant therapies (systemic ones only without
    metastases at diagnosis, as the guideline has it); unobserved ones as planned."""
    def fix(planned: np.ndarray, code: np.ndarray) -> np.ndarray:
        return np.where(code >= 0, (code == 1) & ~m1, planned)

    th = {k: v[rows] for k, v in table.therapies.items()}
    endocrine = fix(plan.endocrine, th["endocrine_therapy"])
    years = np.where(endocrine, np.where(plan.endocrine_years > 0, plan.endocrine_years, endocrine_years), 0.0)
    return replace(plan, endocrine=endocrine, endocrine_years=years,
                   chemotherapy=fix(plan.chemotherapy, th["chemotherapy"]),
                   anti_her2=fix(plan.anti_her2, th["anti_her2"]),
                   radiotherapy=fix(plan.radiotherapy, th["radiotherapy"]))


def simulate_twins(table: TwinsTable, scenario: Scenario, params: ParameterSet, *, replicates: int = 1,
                   seed: int = 20261121, engine: str | None = None, max_candidates: int = DEFAULT_MAX_CANDIDATES,
                   skip_unmatched: bool = False, warn: Callable[[str], None] | None = None,
                   progress: Progress | None = None) -> TwinsResult:
    """``replicates`` twins of every row of ``table`` (see the module docstring). A row not matched
    within ``max_candidates`` candidates is a :class:`TwinsMatchError`, or skipped with a warning
    with ``skip_unmatched``. Same seed, same twins."""
    warn = warn or (lambda message: None)
    engine = engine or scenario.engine
    eng, clinic = _model(scenario, params, engine)
    n = len(table)
    need = np.full(n, replicates, dtype=np.int64)
    tried = np.zeros(n, dtype=np.int64)
    matches = np.zeros(n, dtype=np.int64)  # candidates that matched, kept or not
    follow = np.where(np.isnan(table.follow_up_days), clinic.horizon, table.follow_up_days)
    target, pn = table.positive_nodes, table.pn
    patients, lesions = [], []
    block, fold = 0, FIRST_FOLD
    while True:
        pending = np.flatnonzero((need > 0) & (tried < max_candidates))
        if not pending.size:
            break
        slots = np.repeat(pending, np.minimum(need[pending] * fold, max_candidates - tried[pending]))
        for first in range(0, len(slots), BLOCK_PATIENTS):
            rows = slots[first:first + BLOCK_PATIENTS]
            key = TWINS_STREAM + block
            ids = block * BLOCK_PATIENTS + np.arange(len(rows), dtype=np.int64)
            block += 1
            cov = sample_conditional(scenario, params, block_rng(seed, key, Phase.COVARIATES), table.observed.take(rows))
            h = eng.simulate_start(CohortStart(ids, cov, primary_growth(cov, params), eng.table), seed, key)
            st = clinic.stage(h)
            tried += np.bincount(rows, minlength=n)
            ok = np.flatnonzero((st.positive == target[rows]) & ((pn[rows] < 0) | (st.pn == pn[rows])))
            matches += np.bincount(rows[ok], minlength=n)
            rank = rank_in_group(rows[ok], np.argsort(rows[ok], kind="stable"))  # in order of appearance
            keep = ok[rank < need[rows[ok]]]
            if not keep.size:
                continue
            replicate = replicates - need[rows[keep]] + rank[rank < need[rows[ok]]]
            need -= np.bincount(rows[keep], minlength=n)
            plan = _fixed_plan(clinic.plan(h, st), table, rows, st.m1, scenario.treatment.endocrine_years)
            h = eng.after_surgery(h, clinic.exposure(h, plan), seed, key).take(keep)
            st, plan = clinic.stage(h), plan.take(keep)
            out = clinic.course(h, st, plan, block_rng(seed, key, Phase.CLINIC), follow_up_days=follow[rows[keep]])
            pt = to_arrow_table(out.patients, "patients").to_pandas()
            pt.insert(0, "replicate", replicate.astype(np.int64))
            pt.insert(0, "row_id", table.row_id[rows[keep]])
            patients.append(pt)
            lesions.append(to_arrow_table(out.lesions, "lesions").to_pandas())
            if progress is not None:
                progress(int(n * replicates - need.sum()), n * replicates)
        fold *= ROUND_FOLD
    unmatched = np.flatnonzero(need > 0)
    for i in unmatched:
        message = (f"{table.source}: row {int(table.row_id[i])}: {int(target[i])} positive node"
                   f"{'s' * (int(target[i]) != 1)}{'' if pn[i] < 0 else ' with the observed pN'} with a "
                   f"{table.observed.diameter_mm[i]:g} mm tumour was matched by {replicates - int(need[i])} of "
                   f"{int(tried[i]):,} simulated candidates, fewer than the {replicates} replicate"
                   f"{'s' * (replicates != 1)} asked: the model's nodal spread rarely produces this row "
                   "(--max-candidates tries more)")
        if not skip_unmatched:
            raise TwinsMatchError(message + "; --skip-bad-rows skips such rows")
        warn(message + "; skipped")
    pat = pd.concat(patients, ignore_index=True) if patients else pd.DataFrame()
    les = pd.concat(lesions, ignore_index=True) if lesions else pd.DataFrame(columns=["patient_id"])
    if len(pat):
        bad_ids = set(table.row_id[unmatched].tolist())
        pat = pat[~pat["row_id"].isin(bad_ids)].sort_values(["row_id", "replicate"], ignore_index=True)
    if not len(pat):
        raise TwinsMatchError(f"{table.source}: no row was matched")
    which = pat.set_index("patient_id")[["row_id", "replicate"]]
    les = les[les["patient_id"].isin(which.index)]
    les = pd.concat([which.loc[les["patient_id"]].reset_index(drop=True), les.reset_index(drop=True)], axis=1)
    les = les.sort_values(["row_id", "replicate", "detection_day"], kind="stable", ignore_index=True)
    per_row = pd.DataFrame({"row_id": table.row_id, "candidates": tried,
                            "matches": matches,
                            "acceptance": np.divide(matches, tried, out=np.zeros(n), where=tried > 0),
                            "matched": need == 0})
    outcome = pat.groupby("row_id").agg(replicates=("replicate", "size"),
                                        distant_relapse=("distant_metastasis_day", lambda s: float(s.notna().mean())),
                                        died=("os_event", "mean"))
    per_row = per_row.merge(outcome, on="row_id", how="left")
    per_row["replicates"] = per_row["replicates"].fillna(0).astype(np.int64)
    result = TwinsResult(pat, les, per_row)
    result.summary = _summary(table, scenario, seed, replicates, engine, pat, per_row, clinic.horizon)
    return result


def _km(patients: pd.DataFrame, endpoint: str) -> dict:
    """Kaplan-Meier of one endpoint over all twins (DFS and DMFS without de novo stage IV)."""
    d_col, e_col = endpoint_columns(endpoint)
    kmf, df = endpoint_km(patients, endpoint)
    out = {"n": int(len(df)), "events": int(df[e_col].sum())}
    if kmf is None:
        return out | {"median_years": None, "survival": []}
    median = float(kmf.median_survival_time_)
    t_max = float(df[d_col].max()) / DAYS_PER_YEAR
    times = [t for t in SUMMARY_YEARS if t <= t_max + 1e-9]
    ci = kmf.confidence_interval_survival_function_
    surv = []
    for t in times:
        i = ci.index.searchsorted(t, side="right") - 1
        surv.append({"years": t, "survival": round(float(kmf.predict(t)), 6),
                     "lower_95": round(float(ci.iloc[max(i, 0), 0]), 6),
                     "upper_95": round(float(ci.iloc[max(i, 0), 1]), 6)})
    return out | {"median_years": round(median, 4) if math.isfinite(median) else None, "survival": surv}


def _summary(table: TwinsTable, scenario: Scenario, seed: int, replicates: int, engine: str, pat: pd.DataFrame,
             per_row: pd.DataFrame, horizon: float) -> dict:
    matched = per_row[per_row["matched"]]
    return {
        "seedsoil_version": __version__, "source": table.source, "scenario": scenario.name, "engine": engine,
        "seed": seed, "replicates": replicates, "rows": int(len(per_row)), "rows_matched": int(len(matched)),
        "rows_skipped_as_bad_input": list(table.skipped),
        "rows_unmatched": [int(r) for r in per_row.loc[~per_row["matched"], "row_id"]],
        "conditioning": {
            "method": "rejection: candidates with every observed covariate are simulated until surgery and kept "
                      "when the axillary surgery finds the observed positive node count (and pN, where given)",
            "candidates": int(per_row["candidates"].sum()),
            "acceptance_median": float(matched["acceptance"].median()) if len(matched) else None,
            "acceptance_min": float(matched["acceptance"].min()) if len(matched) else None},
        "follow_up_days": {"from_table": int(np.isfinite(table.follow_up_days).sum()),
                           "from_scenario": int(np.isnan(table.follow_up_days).sum()), "scenario_days": horizon},
        "endpoints": {ep: _km(pat, ep) for ep in ENDPOINTS},
    }
