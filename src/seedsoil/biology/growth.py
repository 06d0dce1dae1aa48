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

    # -- families of laws (one per growth) ----------------------------------------------------
    def take(self, idx) -> Gompertz:
        """The laws of the growths ``idx`` of a family."""
        cap = self.capacity
        return Gompertz(rate=np.asarray(self.rate)[idx], capacity=np.asarray(cap)[idx] if np.ndim(cap) else cap,
                        n0=self.n0)

    def concat(self, other: Gompertz) -> Gompertz:
        """This family's laws then ``other``'s (one scalar capacity and start size)."""
        if isinstance(other, WarpedGompertz) and not isinstance(self, WarpedGompertz):
            return WarpedGompertz.identity(self).concat(other)
        return Gompertz(rate=np.concatenate([np.atleast_1d(self.rate), np.atleast_1d(other.rate)]),
                        capacity=self.capacity, n0=self.n0)

    def column(self) -> Gompertz:
        """The family as a column, to broadcast against ages of shape (growths, times)."""
        cap = self.capacity
        return Gompertz(rate=np.asarray(self.rate)[:, None], capacity=np.asarray(cap)[..., None] if np.ndim(cap)
                        else cap, n0=self.n0)

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


@dataclass(frozen=True)
class WarpedGompertz(Gompertz):
    """A Gompertz family some of whose growths run on a soil's clock: growth ``i`` with table
    ``warp[i] >= 0`` has, at ``age`` days of untreated growth, the size plain Gompertz reaches
    at ``W(age x s) / s`` days, with ``s = rate / reference_rate`` and ``W`` the table's
    (reference days -> Gompertz days) map, increasing with slope >= 1 where the soil speeds
    growth (the bone vicious cycle, :mod:`seedsoil.biology.bone`). ``warp[i] = -1``: plain.

    >>> plain = Gompertz(rate=np.array([0.001, 0.001]), capacity=1e12)
    >>> w = WarpedGompertz(rate=plain.rate, capacity=1e12, warp=np.array([-1, 0]),
    ...                    tables=((np.array([0.0, 1e4]), np.array([0.0, 2e4])),), reference_rate=0.001)
    >>> bool(np.isclose(w.size(np.array([500.0, 500.0]))[1], plain.size(1000.0)[0]))
    True
    >>> [round(float(x), 6) for x in w.time_to(w.size(np.array([700.0, 700.0])))]
    [700.0, 700.0]
    """

    warp: np.ndarray = None  # type: ignore[assignment]
    tables: tuple = ()
    reference_rate: float = 1.0

    @classmethod
    def identity(cls, law: Gompertz) -> WarpedGompertz:
        rate = np.atleast_1d(np.asarray(law.rate, dtype=float))
        return cls(rate=rate, capacity=law.capacity, n0=law.n0, warp=np.full(rate.shape, -1), tables=(),
                   reference_rate=1.0)

    def _map(self, t, forward: bool):
        """Plain Gompertz days for warped ages (``forward``) or back; ``t``'s first axis is the growths."""
        t = np.asarray(t, dtype=float)
        w = np.asarray(self.warp).reshape(-1)
        if not self.tables or not (w >= 0).any():
            return t
        if t.ndim == 0 or t.shape[0] != w.size:
            t = np.broadcast_to(t, (w.size,) + t.shape[1:] if t.ndim else (w.size,))
        out = np.array(t, dtype=float, copy=True)
        rate = np.broadcast_to(np.asarray(self.rate, dtype=float).reshape(-1), w.shape)
        for k, (theta, age) in enumerate(self.tables):
            rows = np.flatnonzero(w == k)
            if not rows.size:
                continue
            scale = (rate[rows] / self.reference_rate).reshape((-1,) + (1,) * (t.ndim - 1))
            x, y = (theta, age) if forward else (age, theta)
            v = t[rows] * scale
            slope = (y[-1] - y[-2]) / (x[-1] - x[-2])  # beyond the table: its last slope
            with np.errstate(invalid="ignore"):
                mapped = np.where(v <= x[-1], np.interp(v, x, y), y[-1] + (v - x[-1]) * slope)
            out[rows] = np.where(np.isfinite(v), mapped, v) / scale
        return out

    def size(self, t):
        return super().size(self._map(np.maximum(np.asarray(t, dtype=float), 0.0), True))

    def log_distance(self, t):
        return super().log_distance(self._map(np.maximum(np.asarray(t, dtype=float), 0.0), True))

    def time_to(self, n):
        return self._map(super().time_to(n), False)

    def take(self, idx) -> WarpedGompertz:
        base = Gompertz.take(self, idx)
        return WarpedGompertz(rate=base.rate, capacity=base.capacity, n0=self.n0, warp=np.asarray(self.warp)[idx],
                              tables=self.tables, reference_rate=self.reference_rate)

    def concat(self, other: Gompertz) -> WarpedGompertz:
        o = other if isinstance(other, WarpedGompertz) else WarpedGompertz.identity(other)
        short, long_ = sorted((self.tables, o.tables), key=len)
        if short and (any(x is not y for x, y in zip(short, long_)) or o.reference_rate != self.reference_rate):
            raise ValueError("cannot join growth families warped by different tables")
        tables = long_  # one family's tables extend the other's (tables are only ever appended)
        ref = self.reference_rate if self.tables else o.reference_rate
        return WarpedGompertz(rate=np.concatenate([np.atleast_1d(self.rate), np.atleast_1d(o.rate)]),
                              capacity=self.capacity, n0=self.n0, warp=np.concatenate([self.warp, o.warp]),
                              tables=tables, reference_rate=ref)

    def column(self) -> WarpedGompertz:
        base = Gompertz.column(self)
        return WarpedGompertz(rate=base.rate, capacity=base.capacity, n0=self.n0, warp=np.asarray(self.warp)[:, None],
                              tables=self.tables, reference_rate=self.reference_rate)
