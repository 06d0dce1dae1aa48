"""Run a virtual trial: screen a cohort of the base scenario, enrol the eligible, randomise them
to the arms (each patient's course read from her own arm's run: every arm simulates the same
patients on the same random streams, so arms differ only by what the arm changes), censor at the
analysis, compare each arm with the control; with repeats, power and the spread of hazard ratios.
Writes trial_summary.json, trial_patients.parquet and one Kaplan-Meier figure per endpoint."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil._version import __version__
from seedsoil.analysis.trial import DAYS_PER_YEAR, censored, compare, event_days
from seedsoil.scenario.trial import Trial

SCREEN_FOLD = 3
"""First screening cohort: this many times the sample size (grown until enough are eligible)."""
MIN_SCREEN = 2000
SCREEN_MARGIN = 1.2
"""A second screening round takes the eligible share seen so far, with this margin."""
MAX_SCREEN_ROUNDS = 6
MAX_SCREENED = 500_000
"""Most patients screened for one trial: a design that needs more is refused (widen the criteria)."""
SIGNIFICANCE = 0.05
ENDPOINT_NAMES = {"dfs": "disease-free survival", "dmfs": "distant-metastasis-free survival",
                  "os": "overall survival", "brain_mfs": "brain-metastasis-free survival",
                  "bone_mfs": "bone-metastasis-free survival", "sre_fs": "skeletal-event-free survival"}
Progress = Callable[[int, int], None]


@dataclass
class TrialResult:
    """One trial's comparisons (``table``: one row per repeat, endpoint and arm vs control), the
    enrolled patients of the first repeat (``patients``) and the summary written as JSON."""

    trial: Trial
    table: pd.DataFrame
    patients: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def save(self, out: Path) -> list[Path]:
        from seedsoil.interfaces.plots import trial_figure, write_figure

        out.mkdir(parents=True, exist_ok=True)
        written = []
        p = out / "trial_summary.json"
        p.write_text(json.dumps(self.summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        written.append(p)
        p = out / "trial_patients.parquet"
        self.patients.to_parquet(p, index=False)
        written.append(p)
        for ep in self.trial.spec.design.endpoints:
            p = out / f"km_{ep}.png"
            write_figure(trial_figure(self.patients, ep, ENDPOINT_NAMES[ep], self.trial.arm_names,
                                      self.summary["endpoints"][ep], self.trial.spec.name), p)
            written.append(p)
        return written


def _eligible(p: pd.DataFrame, trial: Trial) -> np.ndarray:
    e = trial.spec.eligibility
    stage = p["stage"].astype(str)
    roman = stage.str.rstrip("ABC")
    ok = (p["M"] == "M0").to_numpy() & p["subtype"].isin(e.subtypes).to_numpy() \
        & p["histology"].isin(e.histology).to_numpy() \
        & (stage.isin(e.stages) | roman.isin(e.stages)).to_numpy() \
        & (p["age_at_diagnosis"] >= e.age_min).to_numpy() & (p["age_at_diagnosis"] < e.age_max).to_numpy()
    if e.menopausal != "any":
        ok &= (p["menopausal"] == e.menopausal).to_numpy()
    for col, want in (("er", e.er), ("her2", e.her2)):
        if want != "any":
            ok &= p[col].to_numpy() == (want == "positive")
    return ok


def allocation(n: int, weights: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """Arm index of each of ``n`` patients: counts by the weights (largest remainder), in random order."""
    share = np.asarray(weights) / np.sum(weights) * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(weights)), counts))


def _repeat_seed(seed: int, r: int) -> int:
    return int(np.random.SeedSequence([seed, r]).generate_state(1)[0])


def run_trial(trial: Trial, repeats: int = 1, seed: int = 20261121, workers: int | None = None,
              progress: Progress | None = None) -> TrialResult:
    """Simulate ``repeats`` independent trials (different patients and randomisation each) and
    compare every arm with the first (the control) on every endpoint."""
    from seedsoil.interfaces.api import simulate

    spec = trial.spec
    d = spec.design
    n_arms = len(trial.arms)
    horizon_days = (d.accrual_years + d.follow_up_years) * DAYS_PER_YEAR
    rows, first_patients, screened = [], None, []
    done, total = 0, repeats * n_arms

    def sim(k: int, n: int, s: int):
        sc, params = trial.arms[k]
        return simulate(sc, params=params, patients=n, seed=s, workers=workers)

    for r in range(repeats):
        s = _repeat_seed(seed, r)
        n_screen = max(SCREEN_FOLD * d.patients, MIN_SCREEN)
        for _ in range(MAX_SCREEN_ROUNDS):
            control = sim(0, n_screen, s)
            ok = _eligible(control.patients, trial)
            need = math.ceil(n_screen * d.patients / max(ok.sum(), 1) * SCREEN_MARGIN)
            if ok.sum() >= d.patients or n_screen >= MAX_SCREENED or need > MAX_SCREENED:
                break
            n_screen = need
        if ok.sum() < d.patients:
            raise ValueError(f"{trial.source}: only {int(ok.sum())} of {n_screen:,} screened patients meet the "
                             f"eligibility criteria, too few for design.patients = {d.patients} within "
                             f"{MAX_SCREENED:,} screened; widen [eligibility] or lower design.patients")
        screened.append((n_screen, float(ok.mean())))
        done += 1
        if progress is not None:
            progress(done, total)
        runs = [control] + [None] * (n_arms - 1)
        for k in range(1, n_arms):
            runs[k] = sim(k, n_screen, s)
            done += 1
            if progress is not None:
                progress(done, total)
        ids = np.flatnonzero(ok)[: d.patients]
        rng = np.random.default_rng([seed, r, 1])
        arm = allocation(d.patients, spec.weights, rng)
        entry = rng.uniform(0.0, d.accrual_years, d.patients) if d.accrual_years > 0 else np.zeros(d.patients)
        follow = np.minimum(horizon_days, (d.accrual_years + d.follow_up_years - entry) * DAYS_PER_YEAR)
        enrolled = pd.DataFrame({"patient_id": ids, "arm": np.asarray(trial.arm_names, dtype=object)[arm],
                                 "entry_years": entry, "followed_years": follow / DAYS_PER_YEAR})
        for ep in d.endpoints:
            days = np.empty(d.patients)
            for k in range(n_arms):
                mine = arm == k
                pat = runs[k].patients.iloc[ids[mine]]
                les = runs[k].lesions[runs[k].lesions["patient_id"].isin(ids[mine])]
                days[mine] = event_days(pat, les, ep)
            years, event = censored(days, follow)
            enrolled[f"{ep}_years"], enrolled[f"{ep}_event"] = years, event
            frame = pd.DataFrame({"arm": enrolled["arm"], "years": years, "event": event})
            for k in range(1, n_arms):
                rows.append({"repeat": r, "endpoint": ep, **compare(frame, trial.arm_names[0], trial.arm_names[k])})
        if first_patients is None:
            first_patients = enrolled
    table = pd.DataFrame(rows)
    result = TrialResult(trial=trial, table=table, patients=first_patients)
    result.summary = _summary(trial, table, first_patients, repeats, seed, screened)
    return result


def _summary(trial: Trial, table: pd.DataFrame, patients: pd.DataFrame, repeats: int, seed: int,
             screened: list[tuple[int, float]]) -> dict:
    spec = trial.spec
    first = table[table["repeat"] == 0]
    out = {"seedsoil_version": __version__, "trial": spec.name, "description": spec.description,
           "source": trial.source, "seed": seed, "repeats": repeats,
           "design": spec.design.model_dump(mode="json"), "eligibility": spec.eligibility.model_dump(mode="json"),
           "screened_patients": screened[0][0], "eligible_share": round(screened[0][1], 6),
           "arms": [{"name": a.name, "description": a.description, "treatment": a.treatment,
                     "parameters": a.parameters, "patients": int((patients["arm"] == a.name).sum())}
                    for a in spec.arms],
           "endpoints": {}}
    for ep in spec.design.endpoints:
        out["endpoints"][ep] = [_clean(r) for r in first[first["endpoint"] == ep].drop(
            columns=["repeat", "endpoint"]).to_dict("records")]
    if repeats > 1:
        out["power"] = {}
        for ep in spec.design.endpoints:
            out["power"][ep] = {}
            for arm, g in table[table["endpoint"] == ep].groupby("arm", sort=False):
                hr = g["hr"].dropna().astype(float)
                p = g["p_logrank"].astype(float)
                out["power"][ep][arm] = {
                    "power": float((p < SIGNIFICANCE).mean()), "significance": SIGNIFICANCE, "trials": int(len(g)),
                    "hr_median": float(hr.median()) if len(hr) else None,
                    "hr_2_5": float(hr.quantile(0.025)) if len(hr) else None,
                    "hr_97_5": float(hr.quantile(0.975)) if len(hr) else None}
    return out


def _clean(record: dict) -> dict:
    """JSON-ready: NaN as null."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in record.items()}
