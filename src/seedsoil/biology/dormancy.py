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
