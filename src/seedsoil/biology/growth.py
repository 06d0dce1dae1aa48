"""Gompertz tumour growth from one cell (days, cells), in closed form.

With ``x = ln(K/N)`` Gompertz growth is ``dx/dt = -b x``, so ``x`` decays exponentially on the
growth clock; the integral of ``N`` over time (needed for shedding) uses the exponential
integral E1 from scipy. Rate, capacity and start size may be arrays (one law per patient or per
colony, broadcast against the times), so the batch engine and the clinic share this one law.

>>> g = Gompertz.from_doubling_time(100.0, reference_cells=1e9, capacity=1e12)
>>> round(float(g.doubling_time(1e9)), 6)
100.0
>>> round(float(g.size(g.time_to(4.2e9))) / 4.2e9, 9)
1.0
>>> laws = Gompertz.from_doubling_time(np.array([50.0, 200.0]), reference_cells=1e9, capacity=1e12)
>>> [round(float(d), 6) for d in laws.doubling_time(1e9)]
[50.0, 200.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import exp1

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Gompertz:
    """Gompertz growth ``N(t) = n0 exp(ln(K/n0) (1 - e^{-b t}))``; rate ``b`` per day, K cells.

    Fields may be floats or NumPy arrays of one shape (a family of laws)."""

    rate: float | np.ndarray
    capacity: float | np.ndarray
    n0: float | np.ndarray = 1.0

    def __post_init__(self) -> None:
        ok = np.all(np.asarray(self.rate) > 0) and np.all(np.asarray(self.capacity) > np.asarray(self.n0)) \
            and np.all(np.asarray(self.n0) > 0)
        if not ok:
            raise ValueError(f"invalid Gompertz law: rate={self.rate}, capacity={self.capacity}, n0={self.n0}")

    @classmethod
    def from_doubling_time(cls, vdt_days, reference_cells: float, capacity, n0=1.0) -> Gompertz:
        """The law whose volume doubling time at ``reference_cells`` is ``vdt_days``."""
        if not np.all(np.asarray(capacity) > reference_cells):
            raise ValueError("reference size must be below the carrying capacity")
        rate = LN2 / (np.asarray(vdt_days, dtype=float) * np.log(np.asarray(capacity, dtype=float) / reference_cells))
        return cls(rate=float(rate) if rate.ndim == 0 else rate, capacity=capacity, n0=n0)

    @property
    def _c(self):
        """``ln(K/n0)``: the log-distance to the plateau at the start."""
        c = np.log(np.asarray(self.capacity, dtype=float) / self.n0)
        return float(c) if c.ndim == 0 else c

    def size(self, t):
        """Cells at time ``t`` (days since the first cell)."""
        t = np.asarray(t, dtype=float)
        return self.n0 * np.exp(self._c * -np.expm1(-self.rate * np.maximum(t, 0.0)))

    def log_distance(self, t):
        """``ln(K/N(t))``, the Gompertz state that decays as ``exp(-b t)`` (avoids rounding near K)."""
        return self._c * np.exp(-self.rate * np.maximum(np.asarray(t, dtype=float), 0.0))

    def time_to(self, n):
        """Days from ``n0`` to ``n`` cells (inf at or above the capacity)."""
        n = np.asarray(n, dtype=float)
        frac = np.log(np.maximum(n, self.n0) / self.n0) / self._c
        with np.errstate(divide="ignore"):
            return np.where(frac < 1.0, -np.log1p(-np.minimum(frac, 1.0)) / self.rate, np.inf)

    def doubling_time(self, n):
        """Instantaneous volume doubling time (days) at size ``n``."""
        return LN2 / (self.rate * np.log(np.asarray(self.capacity, dtype=float) / n))

    def integral(self, t0, t1):
        """Cell-days ``∫ N dt`` between ``t0`` and ``t1`` (E1 closed form)."""
        c, b = self._c, self.rate
        e0 = exp1(c * np.exp(-b * np.asarray(t0, dtype=float)))
        e1 = exp1(c * np.exp(-b * np.asarray(t1, dtype=float)))
        return (self.capacity / b) * (e1 - e0)


def diameter_to_cells(diameter_mm, cells_per_mm3: float):
    """Cells in a sphere of this diameter (mm)."""
    d = np.asarray(diameter_mm, dtype=float)
    return cells_per_mm3 * math.pi / 6.0 * d**3


def cells_to_diameter(cells, cells_per_mm3: float):
    """Diameter (mm) of a sphere holding this many cells."""
    n = np.asarray(cells, dtype=float)
    return np.cbrt(6.0 * n / (math.pi * cells_per_mm3))
