"""Therapy as the biology sees it: which cells a treatment acts on, and how (days, cells).

Pure functions of sizes and rates; the clinic decides who gets what and when
(:mod:`seedsoil.clinic.guideline`), the engine draws what is random.

* **Cytotoxic kill follows growth (Norton-Simon).** A course of ``days`` days kills, in log
  terms, ``kill_ratio`` times the log-growth the colony would have made meanwhile: ``L =
  kill_ratio x b ln(K/N) x days`` for a Gompertz colony of rate ``b`` at ``N`` cells (Norton &
  Simon 1977 Cancer Treat Rep 61:1307). Small, fast colonies lose most; a dormant solitary cell
  does not divide and is not touched.
* **Slowing.** Endocrine therapy (ER+ disease) and anti-HER2 therapy (HER2+) slow the growth
  clock of the colonies they reach by a factor while taken: a colony's Gompertz age then runs at
  that speed.
* **A kill moves a colony back along its growth curve.** After a kill leaving ``N'`` cells the
  colony regrows from ``N'`` on the same law: its age becomes the age of ``N'``. It is eradicated
  with probability ``exp(-N')`` (every survivor lost, Poisson).

>>> round(float(norton_simon_log_kill(0.001, 1e6, 1e12, 2.0, 100.0)), 4)
2.7631
>>> [round(float(x), 4) for x in kill_outcome(1e6, 2.7631)]
[63095.8677, 1.0]
"""

from __future__ import annotations

import numpy as np


def norton_simon_log_kill(rate, cells, capacity, kill_ratio: float | np.ndarray, days):
    """Natural-log kill of a cytotoxic course over ``days`` on a Gompertz colony of ``rate`` per day
    at ``cells`` (K = ``capacity``): ``kill_ratio`` x its log-growth over the course."""
    n = np.maximum(np.asarray(cells, dtype=float), 1.0)
    return np.asarray(kill_ratio) * np.asarray(rate) * np.log(np.asarray(capacity) / n) * np.asarray(days)


def kill_outcome(cells, log_kill):
    """(cells left, probability the colony survives) after a kill of ``log_kill`` (natural log):
    the expected survivors of a binomial thinning, and 1 - P(no survivor) with Poisson survivors."""
    left = np.asarray(cells, dtype=float) * np.exp(-np.asarray(log_kill, dtype=float))
    return np.maximum(left, 1.0), -np.expm1(-left)


def penetrated_fold(fold, penetration):
    """Speed multiplier of a drug that reaches a site at ``penetration`` (0: none, 1: fully) of its
    effect: ``1 - penetration (1 - fold)`` (the brain behind its barrier)."""
    return 1.0 - np.asarray(penetration) * (1.0 - np.asarray(fold))


def penetrated_fraction(fraction, penetration):
    """Surviving fraction of a kill reaching a site at ``penetration`` of its log effect."""
    return np.power(np.asarray(fraction, dtype=float), np.asarray(penetration, dtype=float))
