"""Global sensitivity analysis of the main outputs (issue 12 part 4) with SALib: Morris elementary
effects (cheap screening: trajectories x (parameters + 1) cohorts) or Sobol indices (Saltelli
sampling: N x (parameters + 2) cohorts). Each parameter varies on a log scale from its value
divided by ``span`` to its value times ``span`` (within the registry's range; linearly where the
range includes 0). Every cohort uses the same seed, so the differences between cohorts are the
parameters' effects and not sampling noise (common random numbers); a parameter that cannot move
an output has an effect of exactly zero on it."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil._version import __version__
from seedsoil.analysis.headline import OUTPUTS, headline_outputs
from seedsoil.interfaces.execution import Progress
from seedsoil.interfaces.store import json_writer, write_files
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario

METHODS = ("morris", "sobol")
DEFAULT_PARAMETERS = (
    "dissemination.human_shedding_scale", "colonisation.human_scale", "organ.bone.soil_fit", "organ.liver.soil_fit",
    "organ.lung.soil_fit", "organ.brain.soil_fit", "dormancy.awakening_rate_per_year", "dormancy.death_rate_per_year",
    "mortality.burden_hazard_per_day", "organ.liver.growth_fold", "extravasation.her2_bbb_fold",
    "homing.cxcr4_strength",
)
"""The parameters varied by default: cascade scales, the four main soils, dormancy, the death
hazard, liver growth, the brain barrier and CXCR4 homing."""
DEFAULT_SPAN = 2.0
DEFAULT_PATIENTS = 5000
DEFAULT_TRAJECTORIES = 8
DEFAULT_SAMPLES = 32
MORRIS_LEVELS = 4


class SensitivityError(ValueError):
    """Settings that cannot make an analysis (unknown parameter, span, method): one line."""


@dataclass(frozen=True)
class Factor:
    """One varied parameter: its name, default value and the bounds it is sampled in."""

    name: str
    value: float
    low: float
    high: float
    log: bool

    def from_unit(self, x: np.ndarray) -> np.ndarray:
        """Values from sampler coordinates (log10 of the value where ``log``), kept inside the
        bounds that 10 ** log10 rounding could leave by a hair."""
        return np.clip(10.0 ** x if self.log else x, self.low, self.high)

    @property
    def bounds(self) -> list[float]:
        return [math.log10(self.low), math.log10(self.high)] if self.log else [self.low, self.high]


def factors(params: ParameterSet, names: Sequence[str], span: float) -> list[Factor]:
    """The :class:`Factor` of each name, or a :class:`SensitivityError`."""
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 1):
        raise SensitivityError(f"span must be a number above 1 (each parameter varies from value/span to value*span), "
                               f"not {span!r}")
    if not names:
        raise SensitivityError("give at least one parameter to vary")
    if len(set(names)) != len(names):
        raise SensitivityError("a parameter is named twice")
    out = []
    for name in names:
        if name not in params:
            raise SensitivityError(f"{name!r}: {params.unknown(name)}")
        meta = params.meta(name)
        if meta.integer:
            raise SensitivityError(f"{name} is a whole number; vary continuous parameters only")
        v = float(meta.value)
        if v > 0:
            lo, hi, log = max(v / span, meta.minimum), min(v * span, meta.maximum), True
        else:  # a value of 0 has no log scale: the whole allowed range, linearly
            lo, hi, log = meta.minimum, meta.maximum, False
        if not lo < hi:
            raise SensitivityError(f"{name} cannot vary: its value {v:g} sits at both ends of its range")
        out.append(Factor(name, v, lo, hi, log))
    return out


def _evaluate(args) -> dict[str, float]:
    """One cohort's outputs (a top-level function, so worker processes can run it)."""
    from seedsoil.interfaces.api import simulate_with

    scenario, params, overrides, patients, seed = args
    r = simulate_with(scenario, params, overrides, patients=patients, seed=seed)
    return {k: float(v) for k, v in headline_outputs(r.patients).items()}


@dataclass
class SensitivityResult:
    """``indices``: one row per output and parameter (Morris mu*, sigma, mu* 95% half-width; or
    Sobol S1 and ST with their 95% half-widths); ``samples``: each cohort's parameter values and
    outputs; ``summary``: the settings, timings and sources (sensitivity.json)."""

    method: str
    indices: pd.DataFrame
    samples: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def save(self, out: str | os.PathLike) -> list[Path]:
        from seedsoil.interfaces.plots import tornado_figure, write_figure

        return write_files(Path(out), {
            "sensitivity.csv": lambda f: self.indices.to_csv(f, index=False),
            "sensitivity_samples.csv": lambda f: self.samples.to_csv(f, index=False),
            "sensitivity.json": json_writer(self.summary),
            "sensitivity.png": lambda f: write_figure(tornado_figure(self.indices, self.method), f),
        })


def run_sensitivity(scenario: Scenario, params: ParameterSet, *, method: str = "morris",
                    parameters: Sequence[str] = DEFAULT_PARAMETERS, span: float = DEFAULT_SPAN,
                    patients: int = DEFAULT_PATIENTS, trajectories: int = DEFAULT_TRAJECTORIES,
                    samples: int = DEFAULT_SAMPLES, seed: int = 20261121, workers: int = 1,
                    progress: Progress | None = None) -> SensitivityResult:
    """Sample the parameters (SALib), simulate a cohort for each sample, and compute the indices
    of every :data:`~seedsoil.analysis.headline.OUTPUTS` value."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if method not in METHODS:
        raise SensitivityError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    fs = factors(params, list(parameters), span)
    problem = {"num_vars": len(fs), "names": [f.name for f in fs], "bounds": [f.bounds for f in fs]}
    if method == "morris":
        if trajectories < 2:
            raise SensitivityError(f"Morris needs at least 2 trajectories, not {trajectories}")
        x = morris_sample.sample(problem, N=trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        if samples < 2 or samples & (samples - 1):
            raise SensitivityError(f"Sobol samples must be a power of 2 of at least 2 (Saltelli's scheme), not {samples}")
        x = sobol_sample.sample(problem, N=samples, calc_second_order=False, seed=seed)
    values = np.column_stack([f.from_unit(x[:, i]) for i, f in enumerate(fs)])
    jobs = [(scenario, params, dict(zip(problem["names"], map(float, row))), patients, seed) for row in values]
    t0 = time.perf_counter()
    results: list[dict] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, res in enumerate(pool.map(_evaluate, jobs)):
                results.append(res)
                if progress is not None:
                    progress(i + 1, len(jobs))
    else:
        for i, job in enumerate(jobs):
            results.append(_evaluate(job))
            if progress is not None:
                progress(i + 1, len(jobs))
    run_s = time.perf_counter() - t0
    y = pd.DataFrame(results, columns=list(OUTPUTS))
    rows = []
    for out in OUTPUTS:
        col = y[out].to_numpy(float)
        if not np.isfinite(col).all():
            raise SensitivityError(f"output {out} has no value for some parameter samples (too few patients "
                                   f"relapse): raise --patients")
        if method == "morris":
            res = morris_analyze.analyze(problem, x, col, num_levels=MORRIS_LEVELS, seed=seed)
            for i, name in enumerate(problem["names"]):
                rows.append({"output": out, "parameter": name, "mu_star": float(res["mu_star"][i]),
                             "mu": float(res["mu"][i]), "sigma": float(res["sigma"][i]),
                             "mu_star_conf": float(res["mu_star_conf"][i])})
        else:
            res = sobol_analyze.analyze(problem, col, calc_second_order=False, seed=seed)
            for i, name in enumerate(problem["names"]):
                rows.append({"output": out, "parameter": name, "S1": float(res["S1"][i]),
                             "S1_conf": float(res["S1_conf"][i]), "ST": float(res["ST"][i]),
                             "ST_conf": float(res["ST_conf"][i])})
    indices = pd.DataFrame(rows)
    table = pd.DataFrame(values, columns=problem["names"]).join(y)
    summary = {
        "seedsoil_version": __version__, "scenario": scenario.name, "method": method, "seed": seed,
        "patients_per_cohort": patients, "cohorts": len(jobs), "span": span,
        "trajectories": trajectories if method == "morris" else None,
        "samples": samples if method == "sobol" else None,
        "parameters": [{"name": f.name, "value": f.value, "low": f.low, "high": f.high,
                        "scale": "log" if f.log else "linear"} for f in fs],
        "outputs": OUTPUTS, "run_s": round(run_s, 2),
        "library": "SALib (Herman & Usher 2017 J Open Source Softw 2:97; Iwanaga et al. 2022 Socio-Environ Syst "
                   "Model 4:18155); Morris 1991 Technometrics 33:161 with Campolongo et al. 2007 mu*; Saltelli "
                   "et al. 2010 Comput Phys Commun 181:259",
    }
    return SensitivityResult(method, indices, table, summary)
