"""Shedding clocks: a tumour mass's lifetime cut into grid cells, each with its cell-days
(the integrated shedding intensity), its mean size and its log-growth rate, so that event
times can be drawn by inverting exponential growth inside a cell."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import exp1

from seedsoil.biology.growth import Gompertz
from seedsoil.engine.covariates import Primary

GRID_CELLS = 128  # numerical resolution of time-varying stage probabilities (priming, awakening)


@dataclass(frozen=True)
class ShedGrid:
    """Cell edges (days), cell-days per cell, mean size per cell (cells) and log-growth per day."""

    edges: np.ndarray
    mass: np.ndarray
    size: np.ndarray
    log_growth: np.ndarray

    @classmethod
    def build(cls, primary: Primary, cells: int = GRID_CELLS) -> ShedGrid:
        """The primary from its first cell to diagnosis."""
        return cls.for_growth(primary.law, 0.0, primary.diagnosis_day, cells)

    @classmethod
    def for_growth(cls, law: Gompertz, start: float, end: float, cells: int = GRID_CELLS) -> ShedGrid:
        """One mass growing by ``law`` from one cell at day ``start``, removed at day ``end``:
        cells of equal log-size growth."""
        n_end = max(float(law.size(end - start)), law.n0 * (1 + 1e-9))
        log_n = np.linspace(0.0, np.log(n_end / law.n0), cells + 1)
        rel = np.asarray(law.time_to(law.n0 * np.exp(log_n)), dtype=float)
        rel[-1] = end - start
        mass = np.maximum(law.integral(rel[:-1], rel[1:]), 0.0)
        width = np.maximum(np.diff(rel), 1e-300)
        return cls(edges=start + rel, mass=mass, size=law.n0 * np.exp(0.5 * (log_n[:-1] + log_n[1:])),
                   log_growth=np.diff(log_n) / width)

    @classmethod
    def for_masses(cls, rates: np.ndarray, capacity: float, founded: np.ndarray, end: float,
                   cells: int = GRID_CELLS) -> ShedGrid:
        """Several masses (Gompertz, one cell at ``founded``) shedding together until ``end``:
        cells equal in time, intensity = their summed size."""
        founded = np.asarray(founded, dtype=float)
        edges = np.linspace(founded.min(), end, cells + 1)
        rel = np.maximum(edges[None, :] - founded[:, None], 0.0)  # (masses, edges)
        c, b = np.log(capacity), np.asarray(rates, dtype=float)[:, None]
        e = np.where(rel > 0, exp1(c * np.exp(-b * rel)), exp1(c))
        mass = ((capacity / b) * np.diff(e, axis=1)).sum(axis=0)
        size_edges = np.where(rel > 0, capacity * np.exp(-c * np.exp(-b * rel)), 0.0).sum(axis=0)
        width = np.maximum(np.diff(edges), 1e-300)
        lo, hi = np.maximum(size_edges[:-1], 1e-300), np.maximum(size_edges[1:], 1e-300)
        growth = np.where(size_edges[:-1] > 0, np.log(hi / lo) / width, 0.0)
        return cls(edges=edges, mass=np.maximum(mass, 0.0), size=mass / width, log_growth=growth)

    @property
    def total(self) -> float:
        return float(self.mass.sum())

    @property
    def midpoints(self) -> np.ndarray:
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    def sample_times(self, rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
        """``n`` times with density proportional to tumour size x ``weights`` (per grid cell):
        the cell by its weighted cell-days, the time inside it by inverting exponential growth."""
        if n == 0:
            return np.empty(0)
        w = self.mass * weights
        k = rng.choice(len(w), size=n, p=w / w.sum())
        t0, width, r = self.edges[k], self.edges[k + 1] - self.edges[k], self.log_growth[k]
        u = rng.random(n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = np.where(r * width > 1e-9, np.log1p(u * np.expm1(r * width)) / r, u * width)
        return t0 + t
