"""Shedding clocks for many sources at once: each row (one patient's primary, or one patient's
axillary deposits together) has its shedding life cut into grid cells, each with its cell-days
(the integrated shedding intensity), its size and its log-growth rate, so that event times are
drawn by choosing a cell and inverting exponential growth inside it.

Cell-days per cell follow the exponential interpolation that the time inversion assumes, scaled
so that each row's total equals the exact Gompertz integral (E1, one per primary or deposit):
the expected number of units shed is exact; the grid sets only how finely time-varying stage
probabilities (priming, dormancy) are resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.biology.growth import Gompertz
from seedsoil.engine.covariates import Primary

GRID_CELLS = 64
"""Cells per primary's life (equal log-size growth, about 0.34 log-units each for a 2 cm
tumour): the resolution of time-varying stage probabilities (priming, dormancy). The
engine-agreement test's large-tumour case passes at 64 and rejects a 4-cell grid; 128 cells
cost 15% more time for no difference the test can see."""
DEPOSIT_GRID_CELLS = 32
"""Cells (equal in time) over the axillary deposits' shedding life, typically months to a few
years before surgery, over which priming changes a few-fold and dormancy hardly at all."""
TINY = 1e-300


def _exp_mass(lo, hi, width):
    """Cell-days of a mass growing exponentially from ``lo`` to ``hi`` cells over ``width`` days
    (0 where the mass does not exist yet)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(hi / lo)
        m = (hi - lo) / r * width
    flat = np.abs(r) <= 1e-9
    if flat.any():
        m[flat] = (0.5 * (hi + lo) * width)[flat]
    m[~((lo > 0) & (width > 0))] = 0.0
    return m


@dataclass(frozen=True)
class SheddingGrid:
    """Per row: cell edges (days, shape (R, G+1)), cell-days (R, G), mean size (cells, (R, G))
    and log-growth per day (R, G)."""

    edges: np.ndarray
    mass: np.ndarray
    size: np.ndarray
    log_growth: np.ndarray

    @classmethod
    def for_primaries(cls, primary: Primary, cells: int = GRID_CELLS) -> SheddingGrid:
        """Each primary from its first cell to diagnosis, in cells of equal log-size growth."""
        law = primary.law
        top = np.log(np.maximum(primary.diagnosis_cells / law.n0, 1.0 + 1e-9))
        log_n = np.linspace(0.0, 1.0, cells + 1)[None, :] * top[:, None]
        per_row = Gompertz(rate=np.asarray(law.rate)[:, None], capacity=law.capacity, n0=law.n0)
        rel = np.asarray(per_row.time_to(law.n0 * np.exp(log_n)), dtype=float)
        rel[:, -1] = primary.diagnosis_day
        width = np.diff(rel, axis=1)
        n = law.n0 * np.exp(log_n)
        mass = _exp_mass(n[:, :-1], n[:, 1:], width)
        exact = law.integral(0.0, primary.diagnosis_day)
        mass *= (exact / np.maximum(mass.sum(axis=1), TINY))[:, None]
        with np.errstate(divide="ignore"):
            growth = np.diff(log_n, axis=1) / np.maximum(width, TINY)
        return cls(edges=rel, mass=mass, size=law.n0 * np.exp(0.5 * (log_n[:, :-1] + log_n[:, 1:])),
                   log_growth=growth)

    @classmethod
    def for_deposits(cls, row: np.ndarray, founded: np.ndarray, rate: np.ndarray, capacity: float,
                     end: np.ndarray, cells: int = DEPOSIT_GRID_CELLS) -> SheddingGrid:
        """Axillary deposits (Gompertz from one cell at ``founded``, grouped into rows by
        ``row`` = 0..R-1, every row with at least one deposit) shedding together until their
        row's ``end``: cells equal in time."""
        order = np.argsort(row, kind="stable")
        row, founded, rate = row[order], founded[order], rate[order]
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        first = np.minimum.reduceat(founded, starts)
        edges = first[:, None] + np.linspace(0.0, 1.0, cells + 1)[None, :] * (end - first)[:, None]
        e = edges[row]  # (D, G+1)
        age = e - founded[:, None]
        law = Gompertz(rate=rate[:, None], capacity=capacity)
        sizes = np.where(age >= 0, law.size(np.maximum(age, 0.0)), 0.0)  # (D, G+1), 0 before founding
        lo, hi = sizes[:, :-1], sizes[:, 1:]
        founding = (lo == 0) & (hi > 0)  # the cell in which the deposit starts from one cell
        width = np.where(founding, e[:, 1:] - founded[:, None], np.diff(e, axis=1))
        per = _exp_mass(np.where(founding, law.n0, lo), hi, width)
        exact = Gompertz(rate=rate, capacity=capacity).integral(0.0, end[row] - founded)
        per *= (exact / np.maximum(per.sum(axis=1), TINY))[:, None]
        mass = np.add.reduceat(per, starts, axis=0)
        size_e = np.add.reduceat(sizes, starts, axis=0)
        width = np.maximum(np.diff(edges, axis=1), TINY)
        with np.errstate(divide="ignore", invalid="ignore"):
            growth = np.where(size_e[:, :-1] > 0, np.log(size_e[:, 1:] / np.maximum(size_e[:, :-1], TINY)) / width, 0.0)
        return cls(edges=edges, mass=mass, size=mass / width, log_growth=growth)

    def take(self, rows: np.ndarray) -> SheddingGrid:
        """The grid of some rows only."""
        return SheddingGrid(self.edges[rows], self.mass[rows], self.size[rows], self.log_growth[rows])

    @property
    def total(self) -> np.ndarray:
        """Cell-days per row."""
        return self.mass.sum(axis=1)

    @property
    def midpoints(self) -> np.ndarray:
        return 0.5 * (self.edges[:, :-1] + self.edges[:, 1:])

    def _time_in_cell(self, rows: np.ndarray, k: np.ndarray, u_time: np.ndarray) -> np.ndarray:
        """A time inside cell ``k`` of each row, inverting exponential growth with ``u_time``."""
        t0 = self.edges[rows, k]
        width = self.edges[rows, k + 1] - t0
        r = self.log_growth[rows, k]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = np.where(r * width > 1e-9, np.log1p(u_time * np.expm1(r * width)) / r, u_time * width)
        return t0 + t

    def sample_times(self, rows: np.ndarray, weights: np.ndarray, u_cell: np.ndarray, u_time: np.ndarray) -> np.ndarray:
        """One time per event: event i of row ``rows[i]`` with density proportional to size x
        ``weights[i]`` (per cell, shape (events, G)): the cell by inversion of ``u_cell`` on the
        weighted cell-days, the time inside it by inverting exponential growth with ``u_time``."""
        if len(rows) == 0:
            return np.empty(0)
        cum = np.cumsum(self.mass[rows] * weights, axis=1)
        k = np.minimum((u_cell[:, None] * cum[:, -1:] >= cum).sum(axis=1), cum.shape[1] - 1)
        return self._time_in_cell(rows, k, u_time)

    def sample_times_linear(self, rows: np.ndarray, c1: np.ndarray, c2: np.ndarray, gamma: np.ndarray,
                            u_cell: np.ndarray, u_time: np.ndarray) -> np.ndarray:
        """Like :meth:`sample_times` for weights linear in a per-row profile: event i has
        cumulative weighted cell-days ``c1[rows[i]] + gamma[i] * c2[rows[i]]`` (per-row cumulative
        sums, shape (R, G)); the cell is found by bisection (log2 G steps per event)."""
        if len(rows) == 0:
            return np.empty(0)
        g = c1.shape[1]
        target = u_cell * (c1[rows, -1] + gamma * c2[rows, -1])
        lo, hi = np.zeros(len(rows), dtype=np.int64), np.full(len(rows), g - 1, dtype=np.int64)
        for _ in range(int(np.ceil(np.log2(g))) + 1):
            mid = (lo + hi) // 2
            right = c1[rows, mid] + gamma * c2[rows, mid] <= target
            lo, hi = np.where(right, mid + 1, lo), np.where(right, hi, mid)
        return self._time_in_cell(rows, np.minimum(lo, g - 1), u_time)
