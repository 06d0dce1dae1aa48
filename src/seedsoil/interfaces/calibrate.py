"""Fit chosen parameters to chosen published targets by approximate Bayesian computation with
sequential Monte Carlo (ABC-SMC, pyabc; Toni et al. 2009 J R Soc Interface 6:187, Klinger et al.
2018 Bioinformatics 34:3591). pyabc rather than sbi: the model is a stochastic simulator of a
dozen summary numbers with a few parameters, where ABC-SMC needs no neural network, no GPU and
no training data, runs on local cores or a Dask cluster (its samplers), and keeps every
generation in a SQLite database, which makes a run resumable.

Each particle simulates the calibration's scenario with its parameter values (``patients`` per
cohort, the same seed for every particle: common random numbers) and computes the targets; the
distance to the published values is the root sum of squares of each miss in units of the
target's tolerance band half-width (so 1 is "at the edge of the band" for one target). The
outputs are the last generation's weighted particles, a summary of each parameter's posterior,
the fit of every target at the default and at the posterior median, and a scenario file with the
posterior medians."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil._version import __version__
from seedsoil.interfaces.store import json_writer, write_files
from seedsoil.scenario.calibration import Calibration

DB_FILE = "calibration.db"
CONFIG_FILE = "calibration_config.json"
"""The settings a run started with, so that --resume continues the same calibration."""
ABC_ID = 1


class CalibrationError(ValueError):
    """A calibration that cannot run or resume as asked: one line."""


def _key(i: int) -> str:
    return f"p{i}"


class TargetModel:
    """The simulator pyabc calls: parameter values (sampler scale) -> simulated target values."""

    def __init__(self, cal: Calibration):
        self.cal = cal

    def values(self, natural: dict[str, float]) -> dict[str, float]:
        """Simulated value of every target with these parameter values (natural scale)."""
        from seedsoil.analysis import targets as T
        from seedsoil.interfaces.api import simulate_with

        cal = self.cal
        r = simulate_with(cal.scenario, cal.params, natural, patients=cal.spec.patients, seed=cal.spec.seed)
        table = T.evaluate(cal.targets, {T.DEFAULT_RUN: T.Cohort(r.patients, r.lesions, r.funnel, seed=cal.spec.seed,
                                                                  boot=0)})
        return dict(zip(table["target_id"], table["simulated"].astype(float)))

    def natural(self, par) -> dict[str, float]:
        out = {}
        for i, (name, prior) in enumerate(self.cal.spec.parameters.items()):
            x = float(par[_key(i)])
            out[name] = float(np.clip(10.0 ** x if prior.scale == "log" else x, prior.low, prior.high))
        return out

    def __call__(self, par) -> dict[str, float]:
        return self.values(self.natural(par))


class BandDistance:
    """Root sum of squared misses, each in units of its target's band half-width."""

    def __init__(self, cal: Calibration):
        self.scale = {t.target_id: (t.acceptance[1] - t.acceptance[0]) / 2.0 for t in cal.targets}

    def __call__(self, x: dict, x0: dict) -> float:
        total = 0.0
        for k, s in self.scale.items():
            d = (x[k] - x0[k]) / s
            total += d * d if math.isfinite(d) else 1e12
        return math.sqrt(total)


@dataclass
class CalibrationResult:
    """``posterior``: the last generation's particles (natural scale) and weights; ``summary_table``:
    per parameter prior, default and posterior summary; ``fit``: every target at the default and at
    the posterior median; ``summary``: calibration.json; ``scenario_toml``: the fitted scenario."""

    posterior: pd.DataFrame
    summary_table: pd.DataFrame
    fit: pd.DataFrame
    scenario_toml: str
    summary: dict = field(default_factory=dict)

    def save(self, out: str | os.PathLike) -> list[Path]:
        from seedsoil.interfaces.plots import posterior_figure, write_figure

        return write_files(Path(out), {
            "posterior.csv": lambda f: self.posterior.to_csv(f, index=False),
            "posterior_summary.csv": lambda f: self.summary_table.to_csv(f, index=False),
            "fit.csv": lambda f: self.fit.to_csv(f, index=False),
            "fitted_scenario.toml": lambda f: f.write_text(self.scenario_toml, encoding="utf-8"),
            "calibration.json": json_writer(self.summary),
            "posterior.png": lambda f: write_figure(posterior_figure(self.posterior, self.summary_table), f),
        })


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order]) / w.sum()
    return float(np.interp(q, cum - w[order] / (2 * w.sum()), x[order]))


def run_calibration(cal: Calibration, out: str | os.PathLike, *, workers: int = 1, resume: bool = False,
                    scheduler=None) -> CalibrationResult:
    """Run (or with ``resume`` continue) the ABC-SMC of ``cal`` with its database in ``out``."""
    try:
        import pyabc
    except ImportError:
        raise CalibrationError("calibration needs pyabc: pip install 'seedsoil[calibrate]'") from None
    import logging

    for name in ("ABC", "Epsilon", "Data", "Sampler", "Population", "History", "Distance", "Acceptor"):
        logging.getLogger(f"ABC.{name}" if name != "ABC" else name).setLevel(logging.WARNING)
    out = Path(out)
    db = out / DB_FILE
    if db.exists() and not resume:
        raise CalibrationError(f"{out} already holds a calibration ({DB_FILE}); --resume continues it, or choose "
                               "another --out")
    if resume and not db.exists():
        raise CalibrationError(f"nothing to resume: {out} holds no {DB_FILE}")
    out.mkdir(parents=True, exist_ok=True)
    spec = cal.spec
    config = out / CONFIG_FILE
    same = spec.model_dump(mode="json", exclude={"abc": {"generations"}})
    if resume:
        before = json.loads(config.read_text(encoding="utf-8")) if config.exists() else None
        if before != same:
            raise CalibrationError(f"{out} holds a calibration of other settings than {cal.source} (only "
                                   "abc.generations may change on --resume)")
    else:
        config.write_text(json.dumps(same, indent=2) + "\n", encoding="utf-8")
    model, distance = TargetModel(cal), BandDistance(cal)
    priors = {}
    for i, prior in enumerate(spec.parameters.values()):
        lo, hi = (math.log10(prior.low), math.log10(prior.high)) if prior.scale == "log" else (prior.low, prior.high)
        priors[_key(i)] = pyabc.RV("uniform", lo, hi - lo)
    if scheduler is not None:
        sampler = pyabc.sampler.DaskDistributedSampler(dask_client=scheduler)
    elif workers > 1:
        sampler = pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)
    else:
        sampler = pyabc.sampler.SingleCoreSampler()
    np.random.seed(spec.seed)
    abc = pyabc.ABCSMC(model, pyabc.Distribution(**priors), distance, population_size=spec.abc.particles,
                       sampler=sampler)
    observed = {t.target_id: float(t.published) for t in cal.targets}
    url = f"sqlite:///{db.resolve()}"
    t0 = time.perf_counter()
    if resume:
        history = abc.load(url, ABC_ID)
        done = history.max_t + 1
        if done >= spec.abc.generations:
            raise CalibrationError(f"{out}: the calibration already has its {spec.abc.generations} generations")
        history = abc.run(minimum_epsilon=spec.abc.min_epsilon, max_nr_populations=spec.abc.generations - done)
    else:
        abc.new(url, observed)
        history = abc.run(minimum_epsilon=spec.abc.min_epsilon, max_nr_populations=spec.abc.generations)
    run_s = time.perf_counter() - t0
    df, w = history.get_distribution(m=0, t=history.max_t)
    names = cal.names
    post = pd.DataFrame({name: [model.natural(row)[name] for _, row in df.iterrows()] for name in names})
    post["weight"] = np.asarray(w, dtype=float)
    rows, median = [], {}
    for name, prior in spec.parameters.items():
        x, ww = post[name].to_numpy(float), post["weight"].to_numpy(float)
        median[name] = _weighted_quantile(x, ww, 0.5)
        mean = float(np.average(x, weights=ww))
        rows.append({"parameter": name, "default": float(cal.params[name]), "prior_low": prior.low,
                     "prior_high": prior.high, "prior_scale": prior.scale, "posterior_mean": mean,
                     "posterior_sd": float(np.sqrt(np.average((x - mean) ** 2, weights=ww))),
                     "posterior_q2_5": _weighted_quantile(x, ww, 0.025), "posterior_median": median[name],
                     "posterior_q97_5": _weighted_quantile(x, ww, 0.975)})
    summary_table = pd.DataFrame(rows)
    default_values = model.values({})
    fitted_values = model.values(median)
    fit = pd.DataFrame([{"target_id": t.target_id, "published": t.published, "accept_low": t.acceptance[0],
                         "accept_high": t.acceptance[1], "default": default_values[t.target_id],
                         "fitted": fitted_values[t.target_id], "passed_default": t.passes(default_values[t.target_id]),
                         "passed_fitted": t.passes(fitted_values[t.target_id])} for t in cal.targets])
    pops = history.get_all_populations()
    summary = {
        "seedsoil_version": __version__, "calibration": spec.name, "source": cal.source, "scenario": spec.scenario,
        "patients": spec.patients, "seed": spec.seed, "abc": spec.abc.model_dump(), "workers": workers,
        "generations_done": int(history.max_t + 1), "resumed": bool(resume),
        "epsilons": [float(e) for e in pops["epsilon"].tolist() if np.isfinite(e)],
        "simulations": int(history.total_nr_simulations), "run_s": round(run_s, 1),
        "distance": "root sum of squared misses in units of each target's band half-width",
        "targets_passed": {"default": int(fit["passed_default"].sum()), "fitted": int(fit["passed_fitted"].sum()),
                           "of": len(fit)},
        "method": "ABC-SMC (pyabc " + pyabc.__version__ + "): uniform priors, adaptive median epsilon, "
                  "multivariate normal transitions",
    }
    scenario_toml = _scenario_toml(cal, median)
    return CalibrationResult(post, summary_table, fit, scenario_toml, summary)


def _scenario_toml(cal: Calibration, values: dict[str, float]) -> str:
    """The base scenario with the fitted values, as a scenario file anyone can run."""
    import tomli_w

    d = cal.scenario.model_dump(mode="json")
    d["name"] = f"{cal.spec.name}_fitted"
    d["description"] = (f"{cal.scenario.name} with {', '.join(values)} at their posterior medians "
                        f"(seedsoil calibrate {cal.spec.name})")
    d["parameters"] = {**d["parameters"], **{k: float(f"{v:.6g}") for k, v in values.items()}}
    head = (f"# Fitted by seedsoil {__version__} calibrate {cal.spec.name}: "
            f"{', '.join(t.target_id for t in cal.targets)}\n")
    return head + tomli_w.dumps(d)
