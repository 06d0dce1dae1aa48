"""Growth under therapy: each colony, nodal deposit or residual focus has a Gompertz *age* (days
of untreated growth from one cell) that runs at a therapy-dependent speed between boundaries
and drops when a kill moves it back along its growth curve (:mod:`seedsoil.biology.therapy`).

A :class:`Clock` holds, for a set of growths, each one's boundaries (absolute days, sorted, the
first -inf), its age just after each boundary (after any kill) and its speed after it, its
founding day and the day it was eradicated (inf if never). Between boundaries the age is linear
in time, so sizes, first crossings of a size (detection) and burdens come in closed form,
vectorised over growths. Kills draw nothing: a growth survives a kill when its ``luck`` (a
uniform drawn when it was founded) is below its chance of surviving, and its luck is then
rescaled to stay uniform (``luck / chance``), so a stronger therapy never saves a growth that a
weaker one lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seedsoil.biology.growth import Gompertz
from seedsoil.biology.therapy import kill_outcome

CROSSING_SLACK_DAYS = 1e-6
"""Rounding allowance when a growth reaches a size exactly at a boundary (days)."""
KillFn = Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``(boundary index, cells there, alive) -> (log kill, extra survival probability)`` per growth."""


@dataclass
class Clock:
    """Ages of ``len(founded)`` growths under therapy (see the module docstring); ``law`` is
    each one's untreated Gompertz law from one cell."""

    law: Gompertz
    T: np.ndarray  # (n, K) boundaries, absolute days; T[:, 0] = -inf
    A: np.ndarray  # (n, K) age just after boundary k (0 if founded after it)
    S: np.ndarray  # (n, K) speed after boundary k
    founded: np.ndarray
    dead: np.ndarray
    luck: np.ndarray

    def __len__(self) -> int:
        return len(self.founded)

    @classmethod
    def build(cls, law: Gompertz, founded: np.ndarray, luck: np.ndarray, T: np.ndarray, S: np.ndarray,
              kill: KillFn | None = None) -> Clock:
        """Walk the boundaries ``T`` (n, K; first column -inf, non-decreasing, inf for unused ones)
        with speeds ``S`` (n, K: after each boundary), applying ``kill`` at each boundary."""
        n, k_all = T.shape
        clock = cls(law, T.astype(float), np.zeros((n, k_all)), S.astype(float), founded.astype(float),
                    np.full(n, np.inf), luck.astype(float).copy())
        for k in range(1, k_all):
            clock._advance(k, kill)
        return clock

    def _advance(self, k: int, kill: KillFn | None) -> None:
        """Age just after boundary ``k`` from the segment before it, then the kill there."""
        T, A, S, f = self.T, self.A, self.S, self.founded
        t = T[:, k]
        ok = np.isfinite(t) & (f < t) & (self.dead > t)
        start = np.maximum(T[:, k - 1], f)
        with np.errstate(invalid="ignore"):
            age = np.where(ok, A[:, k - 1] + S[:, k - 1] * np.maximum(t - start, 0.0), 0.0)
        if kill is not None and ok.any():
            cells = np.where(ok, self.law.size(age), 0.0)
            log_kill, extra = kill(k, cells, ok)
            hit = ok & ((log_kill > 0) | (extra < 1))
            if hit.any():
                left, chance = kill_outcome(cells[hit], log_kill[hit])
                chance = chance * extra[hit]
                idx = np.flatnonzero(hit)
                survive = self.luck[idx] < chance
                self.dead[idx[~survive]] = t[idx[~survive]]
                keep = idx[survive]
                self.luck[keep] = self.luck[keep] / chance[survive]
                law = self.law.take(keep)
                age[keep] = law.time_to(left[survive])
        A[:, k] = np.where(ok, age, 0.0)

    def extend(self, t: np.ndarray, speed: np.ndarray, kill: KillFn | None = None) -> None:
        """Append a boundary at ``t`` (per growth, at or after the last one; inf: none) with
        ``speed`` after it, and apply ``kill`` there (called with the new boundary's index)."""
        self.T = np.concatenate([self.T, t[:, None]], axis=1)
        self.A = np.concatenate([self.A, np.zeros((len(self), 1))], axis=1)
        self.S = np.concatenate([self.S, speed[:, None]], axis=1)
        self._advance(self.T.shape[1] - 1, kill)

    def take(self, idx: np.ndarray) -> Clock:
        """The clock of the growths ``idx`` only."""
        return Clock(self.law.take(idx), self.T[idx], self.A[idx], self.S[idx], self.founded[idx], self.dead[idx],
                     self.luck[idx])

    def concat(self, other: Clock) -> Clock:
        """This clock's growths then ``other``'s (the shorter boundary table padded with inf, speed 1;
        one scalar capacity)."""
        k = max(self.T.shape[1], other.T.shape[1])

        def pad(x, fill):
            return np.concatenate([x, np.full((len(x), k - x.shape[1]), fill)], axis=1)

        def both(name, fill):
            return np.concatenate([pad(getattr(self, name), fill), pad(getattr(other, name), fill)])

        return Clock(self.law.concat(other.law), both("T", np.inf), both("A", 0.0),
                     both("S", 1.0), np.concatenate([self.founded, other.founded]),
                     np.concatenate([self.dead, other.dead]), np.concatenate([self.luck, other.luck]))

    # -- reading the clock ---------------------------------------------------------------------
    def age_at(self, t: np.ndarray) -> np.ndarray:
        """Age at absolute days ``t`` (shape (n,) or (n, J)); -1 before founding or after death."""
        t = np.asarray(t, dtype=float)
        two = t.ndim == 2
        tt = t if two else t[:, None]
        k = np.zeros(tt.shape, dtype=np.int64)
        for j in range(1, self.T.shape[1]):  # boundaries are sorted: count those at or before t
            k += self.T[:, j:j + 1] <= tt
        rows = np.arange(len(self))[:, None]
        a, s, tk = self.A[rows, k], self.S[rows, k], self.T[rows, k]
        f = self.founded[:, None]
        with np.errstate(invalid="ignore"):
            age = a + s * np.maximum(tt - np.maximum(tk, f), 0.0)
        age = np.where((tt >= f) & (tt < self.dead[:, None]), age, -1.0)
        return age if two else age[:, 0]

    def cells_at(self, t: np.ndarray) -> np.ndarray:
        """Cells at absolute days ``t`` (0 before founding and after eradication)."""
        age = self.age_at(t)
        law = self.law.column() if age.ndim == 2 else self.law
        return np.where(age >= 0, law.size(np.maximum(age, 0.0)), 0.0)

    def first_reach(self, target_age: np.ndarray, after: np.ndarray | None = None) -> np.ndarray:
        """First absolute day on which each growth's age reaches ``target_age`` (inf if never);
        with ``after`` (absolute days, per growth), the first such day strictly later than it (a
        regrowth after a kill counts again)."""
        T, A, S, f = self.T, self.A, self.S, self.founded[:, None]
        ends = np.concatenate([T[:, 1:], np.full((len(self), 1), np.inf)], axis=1)
        start = np.maximum(T, f)
        target = np.asarray(target_age, dtype=float)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            at_start = A >= target
            cross = np.where(at_start, start, np.where(S > 0, start + (target - A) / S, np.inf))
            if after is not None:  # ages only rise within a segment: the first day past ``after``
                cross = np.maximum(cross, np.nextafter(np.asarray(after, dtype=float), np.inf)[:, None])
        # a crossing at a segment's end counts (the age there, before any kill, reached the target)
        valid = (start <= ends) & (cross <= ends + CROSSING_SLACK_DAYS) & np.isfinite(start) \
            & (cross < self.dead[:, None])
        if after is not None:  # segments that end by ``after`` are over
            valid &= ends > np.asarray(after, dtype=float)[:, None]
        return np.where(valid, np.minimum(cross, ends), np.inf).min(axis=1)

