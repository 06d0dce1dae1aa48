"""Dormant solitary cells: awakening against death under a piecewise-constant awakening rate.

Endocrine therapy suppresses awakening for a window; the rate is piecewise constant in
calendar time (days), death constant. Both engines use :class:`AwakeningSchedule` to get the
probability that a cell arriving at ``s`` ever awakens and the law of its awakening time.

>>> sch = AwakeningSchedule(starts=[0.0], rates=[0.01], death=0.01)
>>> round(float(sch.probability(0.0)[0]), 6)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AwakeningSchedule:
    """Awakening rate ``rates[k]`` (per day) from ``starts[k]`` to the next start (last: forever)."""

    starts: np.ndarray
    rates: np.ndarray
    death: float

    def __init__(self, starts, rates, death: float):
        s, r = np.asarray(starts, dtype=float), np.asarray(rates, dtype=float)
        if s.ndim != 1 or s.shape != r.shape or np.any(np.diff(s) <= 0) or np.any(r < 0) or death < 0:
            raise ValueError("starts must increase, rates and death be non-negative")
        object.__setattr__(self, "starts", s)
        object.__setattr__(self, "rates", r)
        object.__setattr__(self, "death", float(death))

    def _segments(self, arrival: np.ndarray):
        """Per arrival and segment: (start, end, survival to start, rate) clipped at the arrival."""
        ends = np.append(self.starts[1:], np.inf)
        a = np.maximum(self.starts[None, :], arrival[:, None])
        b = np.maximum(ends[None, :], a)
        total = self.rates + self.death
        length = np.where(np.isfinite(b), b - a, np.inf)
        with np.errstate(invalid="ignore"):
            seg_cum = np.where(np.isinf(length), np.inf, total[None, :] * length)
        seg_cum = np.nan_to_num(seg_cum, nan=0.0, posinf=np.inf)
        before = np.concatenate([np.zeros((len(arrival), 1)), np.cumsum(seg_cum, axis=1)[:, :-1]], axis=1)
        return a, b, np.exp(-before), seg_cum

    def segment_probabilities(self, arrival) -> np.ndarray:
        """P(awaken within segment k | alive and dormant at ``arrival``), shape (arrivals, segments)."""
        arrival = np.atleast_1d(np.asarray(arrival, dtype=float))
        _, _, surv, seg_cum = self._segments(arrival)
        total = self.rates + self.death
        share = np.divide(self.rates, total, out=np.zeros_like(self.rates), where=total > 0)
        return share[None, :] * surv * -np.expm1(-seg_cum)

    def probability(self, arrival):
        """P(the cell ever awakens before dying), for each arrival time."""
        return self.segment_probabilities(arrival).sum(axis=1)

    def sample_time(self, arrival, u_segment, u_time) -> np.ndarray:
        """Awakening times given that each cell awakens, by inversion from two uniforms each."""
        arrival = np.atleast_1d(np.asarray(arrival, dtype=float))
        probs = self.segment_probabilities(arrival)
        cum = np.cumsum(probs, axis=1)
        k = (np.asarray(u_segment)[:, None] * cum[:, -1:] > cum).sum(axis=1)
        k = np.minimum(k, len(self.starts) - 1)
        a, b, _, _ = self._segments(arrival)
        rows = np.arange(len(arrival))
        lam = (self.rates + self.death)[k]
        width = b[rows, k] - a[rows, k]
        frac = -np.expm1(-lam * width)  # P(event in segment | alive at its start)
        return a[rows, k] - np.log1p(-np.asarray(u_time) * frac) / lam


def pre_surgery_fates(wake, death, waiting):
    """For a cell dormant ``waiting`` days before surgery, untreated rates ``wake`` and ``death``
    per day: (P(it awakens before surgery), P(it is still dormant at surgery)).

    >>> [round(float(x), 6) for x in pre_surgery_fates(0.01, 0.01, 0.0)]
    [0.0, 1.0]
    """
    lam = np.asarray(wake + death, dtype=float)
    still = np.exp(-lam * np.asarray(waiting, dtype=float))
    share = np.divide(wake, lam, out=np.zeros(np.broadcast(lam, wake).shape), where=lam > 0)
    return share * (1.0 - still), still


def awakening_before_surgery(arrival, surgery, wake, death, u):
    """Awakening day of a cell that arrived at ``arrival`` and awakens before ``surgery``
    (truncated exponential of rate wake + death), by inversion of the uniform ``u``."""
    lam = np.asarray(wake + death, dtype=float)
    frac = -np.expm1(-lam * (surgery - arrival))
    return arrival - np.log1p(-u * frac) / lam


@dataclass(frozen=True)
class AdjuvantAwakening:
    """From surgery on, for cells still dormant then: awakening rate ``wake_on`` and death rate
    ``death_on`` for ``window`` days (adjuvant endocrine therapy), ``wake_off`` and ``death``
    afterwards (per day); arrays of one entry per patient (or per group of cells). The
    two-segment case of :class:`AwakeningSchedule`, vectorised (memoryless: the arrival day no
    longer matters). ``death_on`` defaults to ``death``."""

    wake_on: np.ndarray
    wake_off: np.ndarray
    death: np.ndarray
    window: np.ndarray
    death_on: np.ndarray | None = None

    def _segments(self):
        d_on = self.death if self.death_on is None else self.death_on
        lam_on, lam_off = self.wake_on + d_on, self.wake_off + self.death
        survive_on = np.exp(-lam_on * self.window)
        p_on = np.divide(self.wake_on, lam_on, out=np.zeros_like(lam_on), where=lam_on > 0) * (1.0 - survive_on)
        p_off = survive_on * np.divide(self.wake_off, lam_off, out=np.zeros_like(lam_off), where=lam_off > 0)
        return p_on, p_off, lam_on, lam_off, survive_on

    def probability(self) -> np.ndarray:
        """P(a cell dormant at surgery ever awakens), per patient."""
        p_on, p_off, *_ = self._segments()
        return p_on + p_off

    def sample_time(self, rows, u_segment, u_time) -> np.ndarray:
        """Days after surgery at which cells of patients ``rows`` awaken, given that they do,
        by inversion of two uniforms each."""
        p_on, p_off, lam_on, lam_off, survive_on = (x[rows] for x in self._segments())
        on = u_segment * (p_on + p_off) < p_on
        frac_on = -np.expm1(-lam_on * self.window[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_on = -np.log1p(-u_time * frac_on) / lam_on
            t_off = self.window[rows] - np.log1p(-u_time) / lam_off
        return np.where(on, t_on, t_off)
