"""Who the patients are and how their primaries grew, for a block of patients at once: drawn
first, from the block's covariate stream, by every engine (so engines agree patient by patient)."""

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
    """Patients and tumours at diagnosis, one entry per patient (age in years, sizes in mm,
    VDT in days); ``subtype`` holds indices into :data:`~seedsoil.scenario.SUBTYPES`."""

    subtype: np.ndarray
    lobular: np.ndarray
    er: np.ndarray
    pr: np.ndarray
    her2: np.ndarray
    grade: np.ndarray
    age: np.ndarray
    tmem_score: np.ndarray
    vdt_days: np.ndarray
    diameter_mm: np.ndarray
    postmenopausal: np.ndarray
    invasion: np.ndarray
    """Lymphovascular invasion: a per-patient multiplier (mean 1) of both blood and lymphatic
    entry, so that nodal and distant spread share a cause beyond size."""

    def __len__(self) -> int:
        return len(self.subtype)

    def take(self, rows) -> Covariates:
        return Covariates(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    @property
    def trait_key(self) -> np.ndarray:
        """Index of each patient's (subtype, ER, HER2, lobular) combination in a :class:`TraitTable`."""
        return ((self.subtype * 2 + self.er) * 2 + self.her2) * 2 + self.lobular


@dataclass(frozen=True)
class Primary:
    """Each primary's growth law and the day it is diagnosed and removed (day 0 = first cell)."""

    law: Gompertz
    diagnosis_day: np.ndarray
    diagnosis_cells: np.ndarray

    def take(self, rows) -> Primary:
        law = Gompertz(rate=self.law.rate[rows], capacity=self.law.capacity, n0=self.law.n0)
        return Primary(law, self.diagnosis_day[rows], self.diagnosis_cells[rows])


def _truncated_normal(rng: np.random.Generator, n: int, mean, sd, lo, hi) -> np.ndarray:
    """``n`` draws by inversion (one uniform each), between ``lo`` and ``hi``."""
    if sd == 0:
        return np.full(n, min(max(mean, lo), hi), dtype=float)
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    return mean + sd * ndtri(a + rng.random(n) * (b - a))


def _by_subtype(p: ParameterSet, pattern: str) -> np.ndarray:
    return np.array([p[pattern.format(s)] for s in SUBTYPES])


def _ilc_shares(scenario: Scenario) -> np.ndarray:
    """P(lobular histology) by subtype."""
    return np.array([getattr(scenario.cohort.ilc_share, s) for s in SUBTYPES], dtype=float)


def _grade_probs(p: ParameterSet) -> np.ndarray:
    """P(grade 1, 2, 3) by subtype, rows normalised (subtypes, 3)."""
    gp = np.array([[p[f"cohort.grade_prob.{s}.g{g}"] for g in (1, 2, 3)] for s in SUBTYPES])
    return gp / gp.sum(axis=1, keepdims=True)


def _draw_grade(rng: np.random.Generator, p: ParameterSet, subtype: np.ndarray) -> np.ndarray:
    """Grades 1-3 given each patient's subtype (one uniform each)."""
    gcum = np.cumsum(_grade_probs(p), axis=1)[subtype]
    return np.minimum((rng.random(len(subtype))[:, None] >= gcum).sum(axis=1), 2) + 1


def _draw_tmem_vdt(rng: np.random.Generator, p: ParameterSet, subtype: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TMEM scores and primary doubling times (days), log-normal around their medians."""
    n = len(subtype)
    tmem = p["tmem.median_score"] * np.exp(p["tmem.log_sd"] * rng.standard_normal(n))
    vdt = _by_subtype(p, "growth.vdt_days.{}")[subtype] * np.exp(p["growth.vdt_log_sd"] * rng.standard_normal(n))
    return tmem, vdt


def _draw_invasion(rng: np.random.Generator, p: ParameterSet, n: int) -> np.ndarray:
    """Lymphovascular invasion multipliers, log-normal with mean 1."""
    sd = p["dissemination.invasion_log_sd"]
    return np.exp(sd * rng.standard_normal(n) - 0.5 * sd * sd)


def sample_covariates(scenario: Scenario, p: ParameterSet, rng: np.random.Generator, n: int) -> Covariates:
    """Subtype, histology, receptors, grade, age, TMEM, doubling time, size at diagnosis and
    menopausal status (age at natural menopause, normal) of ``n`` patients; each quantity is one
    vectorised draw, in a fixed order."""
    c = scenario.cohort
    shares = np.array([getattr(c.subtype_shares, s) for s in SUBTYPES])
    cum = np.cumsum(shares / shares.sum())
    subtype = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(SUBTYPES) - 1)
    lobular = rng.random(n) < _ilc_shares(scenario)[subtype]
    er = rng.random(n) < _by_subtype(p, "cohort.er_positive_prob.{}")[subtype]
    pr = er & (rng.random(n) < _by_subtype(p, "cohort.pr_positive_prob.{}")[subtype])
    her2 = rng.random(n) < _by_subtype(p, "cohort.her2_positive_prob.{}")[subtype]
    grade = _draw_grade(rng, p, subtype)
    age = _truncated_normal(rng, n, c.age_mean, c.age_sd, c.age_min, c.age_max)
    tmem, vdt = _draw_tmem_vdt(rng, p, subtype)
    med, sd = math.log(p["diagnosis.size_median_mm"]), p["diagnosis.size_log_sd"]
    diameter = np.exp(_truncated_normal(rng, n, med, sd, math.log(p["diagnosis.size_min_mm"]),
                                        math.log(p["diagnosis.size_max_mm"])))
    menopause = p["cohort.menopause_age_median"] + p["cohort.menopause_age_sd"] * rng.standard_normal(n)
    invasion = _draw_invasion(rng, p, n)
    return Covariates(subtype.astype(np.int64), lobular, er, pr, her2, grade.astype(np.int64), age, tmem, vdt,
                      diameter, age >= menopause, invasion)


def primary_growth(cov: Covariates, p: ParameterSet) -> Primary:
    """Gompertz laws from one cell calibrated to each patient's doubling time; diagnosis days."""
    per_mm3 = p["cells.per_mm3"]
    law = Gompertz.from_doubling_time(cov.vdt_days, float(diameter_to_cells(p["growth.reference_diameter_mm"], per_mm3)),
                                      p["growth.carrying_capacity_cells"])
    n_dx = diameter_to_cells(cov.diameter_mm, per_mm3)
    return Primary(law=law, diagnosis_day=law.time_to(n_dx), diagnosis_cells=n_dx)


class TraitTable:
    """The traits of every clone for every (subtype, ER, HER2, lobular) combination: a cohort has
    at most 32 distinct trait vectors per clone, so stage probabilities are computed per
    combination once and indexed per patient (:attr:`Covariates.trait_key`)."""

    def __init__(self, scenario: Scenario, p: ParameterSet):
        self.clone_names = tuple(cl.name for cl in scenario.clones)
        self.shares = np.array([cl.share for cl in scenario.clones])
        self.traits: list[list[Traits]] = []  # [key][clone]
        for s in SUBTYPES:
            for er in (False, True):
                for her2 in (False, True):
                    for lob in (False, True):
                        base = subtype_traits(p, s, er=er, her2=her2, lobular=lob)
                        row = []
                        for clone in scenario.clones:
                            t = base.with_(**clone.traits)
                            row.append(t.with_(ecad=0.0) if lob else t)
                        self.traits.append(row)

    def __len__(self) -> int:
        return len(self.traits)

    def per_key(self, clone: int, fn) -> np.ndarray:
        """``fn(traits)`` for every combination of one clone, stacked on a leading axis."""
        return np.stack([np.asarray(fn(row[clone]), dtype=float) for row in self.traits])


UNKNOWN = -1
"""Code of an unobserved category in :class:`Observed` (ages: NaN)."""
MENOPAUSE_REDRAWS = 64
"""Redraws of (age, age at menopause) for a patient whose menopausal status is known but not her
age, until they agree (each redraw succeeds with probability >= the smaller status share)."""


@dataclass(frozen=True)
class Observed:
    """What was observed of each patient at diagnosis (one entry per patient): the tumour's
    diameter (mm, required), age (years; NaN unknown), and codes 0/1 for ``postmenopausal``,
    ``er``, ``pr``, ``her2``, ``lobular`` and 1-3 for ``grade`` (:data:`UNKNOWN` unknown)."""

    diameter_mm: np.ndarray
    age: np.ndarray
    postmenopausal: np.ndarray
    grade: np.ndarray
    er: np.ndarray
    pr: np.ndarray
    her2: np.ndarray
    lobular: np.ndarray

    def __len__(self) -> int:
        return len(self.diameter_mm)

    def take(self, rows) -> Observed:
        return Observed(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def _likelihood(prob: np.ndarray, code: np.ndarray) -> np.ndarray:
    """P(observed code | subtype) of a yes/no covariate, (n, subtypes); 1 where unobserved."""
    code = code[:, None]
    return np.where(code == UNKNOWN, 1.0, np.where(code == 1, prob[None, :], 1.0 - prob[None, :]))


def subtype_posterior(scenario: Scenario, p: ParameterSet, obs: Observed) -> np.ndarray:
    """P(subtype | what was observed) under the cohort model of :func:`sample_covariates`, shape
    (n, subtypes); a row of zeros is a combination the model never produces. PR is drawn only for
    ER+ patients there, so a PR+ ER- patient's PR adds nothing (she is kept PR+ as observed)."""
    c = scenario.cohort
    shares = np.array([getattr(c.subtype_shares, s) for s in SUBTYPES], dtype=float)
    pe = _by_subtype(p, "cohort.er_positive_prob.{}")
    pp = _by_subtype(p, "cohort.pr_positive_prob.{}")
    ph = _by_subtype(p, "cohort.her2_positive_prob.{}")
    ilc, gp = _ilc_shares(scenario), _grade_probs(p)
    er, pr = obs.er[:, None], obs.pr[:, None]
    u = UNKNOWN
    joint = np.select(  # P(ER, PR as observed | subtype), PR drawn only for ER+ patients
        [(er == 1) & (pr == 1), (er == 1) & (pr == 0), er == 1, er == 0,
         (er == u) & (pr == 1), (er == u) & (pr == 0)],
        [pe * pp, pe * (1 - pp), pe, 1 - pe, pe * pp, pe * (1 - pp) + 1 - pe],
        default=1.0) * np.ones((len(obs), 1))
    g = obs.grade[:, None]
    grade = np.where(g == UNKNOWN, 1.0, gp.T[np.clip(obs.grade - 1, 0, 2)])
    w = shares[None, :] * joint * _likelihood(ph, obs.her2) * _likelihood(ilc, obs.lobular) * grade
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def sample_conditional(scenario: Scenario, p: ParameterSet, rng: np.random.Generator, obs: Observed) -> Covariates:
    """Covariates of patients who match ``obs``: the tumour diameter and every observed quantity
    exactly, the rest drawn from the cohort model given what was observed (subtype from
    :func:`subtype_posterior`, unobserved receptors and grade given the subtype, age given the
    menopausal status). Each quantity is one vectorised draw for every patient, in a fixed order,
    whether observed or not, so the stream does not depend on which values were observed."""
    c = scenario.cohort
    n = len(obs)
    post = subtype_posterior(scenario, p, obs)
    cum = np.cumsum(post, axis=1)
    subtype = np.minimum((rng.random(n)[:, None] >= cum).sum(axis=1), len(SUBTYPES) - 1)
    lobular = np.where(obs.lobular == UNKNOWN, rng.random(n) < _ilc_shares(scenario)[subtype], obs.lobular == 1)
    pe = _by_subtype(p, "cohort.er_positive_prob.{}")[subtype]
    pp = _by_subtype(p, "cohort.pr_positive_prob.{}")[subtype]
    p_er = np.where(obs.pr == 1, 1.0, np.where(obs.pr == 0, pe * (1 - pp) / np.maximum(1 - pe * pp, 1e-300), pe))
    er = np.where(obs.er == UNKNOWN, rng.random(n) < p_er, obs.er == 1)
    pr = np.where(obs.pr == UNKNOWN, er & (rng.random(n) < pp), obs.pr == 1)
    her2_drawn = rng.random(n) < _by_subtype(p, "cohort.her2_positive_prob.{}")[subtype]
    her2 = np.where(obs.her2 == UNKNOWN, her2_drawn, obs.her2 == 1)
    grade = np.where(obs.grade == UNKNOWN, _draw_grade(rng, p, subtype), obs.grade)
    age = _truncated_normal(rng, n, c.age_mean, c.age_sd, c.age_min, c.age_max)
    menopause = p["cohort.menopause_age_median"] + p["cohort.menopause_age_sd"] * rng.standard_normal(n)
    known_age = ~np.isnan(obs.age)
    age = np.where(known_age, obs.age, age)
    for _ in range(MENOPAUSE_REDRAWS):  # unknown age, known status: draw both again where they disagree
        bad = ~known_age & (obs.postmenopausal != UNKNOWN) & ((age >= menopause) != (obs.postmenopausal == 1))
        if not bad.any():
            break
        k = int(bad.sum())
        age[bad] = _truncated_normal(rng, k, c.age_mean, c.age_sd, c.age_min, c.age_max)
        menopause[bad] = p["cohort.menopause_age_median"] + p["cohort.menopause_age_sd"] * rng.standard_normal(k)
    postmenopausal = np.where(obs.postmenopausal == UNKNOWN, age >= menopause, obs.postmenopausal == 1)
    tmem, vdt = _draw_tmem_vdt(rng, p, subtype)
    invasion = _draw_invasion(rng, p, n)
    return Covariates(subtype.astype(np.int64), lobular, er, pr, her2, grade.astype(np.int64), age, tmem, vdt,
                      np.asarray(obs.diameter_mm, dtype=float), postmenopausal, invasion)
