"""Who the patient is and how her primary grew: drawn first from her own stream by both engines."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from seedsoil.biology.growth import Gompertz, diameter_to_cells
from seedsoil.biology.traits import Traits, subtype_traits
from seedsoil.params import ParameterSet
from seedsoil.scenario import SUBTYPES, Scenario


@dataclass(frozen=True)
class Covariates:
    """Patient and tumour at diagnosis (age in years, sizes in mm, VDT in days)."""

    subtype: str
    lobular: bool
    er: bool
    pr: bool
    her2: bool
    grade: int
    age: float
    tmem_score: float
    vdt_days: float
    diameter_mm: float


@dataclass(frozen=True)
class Primary:
    """The primary tumour's growth law and the day it is diagnosed and removed (day 0 = first cell)."""

    law: Gompertz
    diagnosis_day: float
    diagnosis_cells: float


def _truncated_normal(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    """One draw by inversion, so it consumes exactly one uniform."""
    if sd == 0:
        return min(max(mean, lo), hi)
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    return float(mean + sd * ndtri(a + rng.random() * (b - a)))


def sample_covariates(scenario: Scenario, p: ParameterSet, rng: np.random.Generator) -> Covariates:
    """Subtype, histology, receptors, grade, age, TMEM, doubling time and size at diagnosis."""
    c = scenario.cohort
    shares = np.array([getattr(c.subtype_shares, s) for s in SUBTYPES])
    subtype = SUBTYPES[int(rng.choice(len(SUBTYPES), p=shares / shares.sum()))]
    lobular = bool(rng.random() < getattr(c.ilc_share, subtype))
    er = bool(rng.random() < p[f"cohort.er_positive_prob.{subtype}"])
    pr = bool(er and rng.random() < p[f"cohort.pr_positive_prob.{subtype}"])
    her2 = bool(rng.random() < p[f"cohort.her2_positive_prob.{subtype}"])
    gp = np.array([p[f"cohort.grade_prob.{subtype}.g{g}"] for g in (1, 2, 3)])
    grade = int(rng.choice(3, p=gp / gp.sum())) + 1
    age = _truncated_normal(rng, c.age_mean, c.age_sd, c.age_min, c.age_max)
    tmem = p["tmem.median_score"] * math.exp(p["tmem.log_sd"] * rng.standard_normal())
    vdt = p[f"growth.vdt_days.{subtype}"] * math.exp(p["growth.vdt_log_sd"] * rng.standard_normal())
    med, sd = math.log(p["diagnosis.size_median_mm"]), p["diagnosis.size_log_sd"]
    diameter = math.exp(_truncated_normal(rng, med, sd, math.log(p["diagnosis.size_min_mm"]),
                                          math.log(p["diagnosis.size_max_mm"])))
    return Covariates(subtype, lobular, er, pr, her2, grade, age, tmem, vdt, diameter)


def primary_growth(cov: Covariates, p: ParameterSet) -> Primary:
    """Gompertz law from one cell calibrated to the patient's doubling time; diagnosis day."""
    per_mm3 = p["cells.per_mm3"]
    law = Gompertz.from_doubling_time(cov.vdt_days, float(diameter_to_cells(p["growth.reference_diameter_mm"], per_mm3)),
                                      p["growth.carrying_capacity_cells"])
    n_dx = float(diameter_to_cells(cov.diameter_mm, per_mm3))
    return Primary(law=law, diagnosis_day=float(law.time_to(n_dx)), diagnosis_cells=n_dx)


def clone_traits(scenario: Scenario, cov: Covariates, p: ParameterSet) -> tuple[list[Traits], np.ndarray]:
    """Each clone's traits (subtype defaults with the clone's overrides; ILC loses E-cadherin)."""
    base = subtype_traits(p, cov.subtype, er=cov.er, her2=cov.her2, lobular=cov.lobular)
    traits = []
    for clone in scenario.clones:
        t = base.with_(**clone.traits)
        if cov.lobular:
            t = t.with_(ecad=0.0)
        traits.append(t)
    return traits, np.array([cl.share for cl in scenario.clones])
