"""After surgery: what the cells still dormant at surgery do under adjuvant therapy, for any
engine (each chooses the random stream: the fast engine its block's adjuvant stream, the per-cell
engine each patient's own).

A dormant cell awakens against death at rates that endocrine therapy changes while it is taken
(:class:`~seedsoil.biology.dormancy.AdjuvantAwakening`); an awakened cell founds a colony with its
group's success probability. In bone, a bone-targeted agent makes the soil hostile while given:
a cell awakening in bone during the agent's window founds a colony only with probability
``bone_fold`` (thinning of the awakening process, so the law stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.biology.dormancy import AdjuvantAwakening
from seedsoil.engine.history import DORMANT, Colonies, DormantPool


@dataclass(frozen=True)
class AdjuvantExposure:
    """Per patient (block row): days from surgery of the endocrine window and the multipliers of
    the awakening (and death) rate inside it; days of the bone-agent window and the probability that a cell
    awakening in bone inside it still founds a colony (1: no agent, or no effect)."""

    endocrine_days: np.ndarray
    awakening_fold: np.ndarray
    bone_days: np.ndarray
    bone_fold: np.ndarray
    death_fold: np.ndarray | None = None
    """Multiplier of the dormant cells' death rate inside the endocrine window (None: 1)."""


def awaken_after_surgery(pool: DormantPool, surgery_day: np.ndarray, colony_rate: np.ndarray,
                         growth_fold: np.ndarray, bone: int, exposure: AdjuvantExposure,
                         rng: np.random.Generator) -> Colonies:
    """Colonies founded after surgery by the cells of ``pool``: ``surgery_day`` and the growth
    rate of a colony in an organ of growth fold 1 (``colony_rate``, per day) per block row,
    ``growth_fold`` per organ, ``bone`` the organ index of bone."""
    if len(pool) == 0:
        return Colonies()
    r = pool.row
    death_on = pool.death if exposure.death_fold is None else pool.death * exposure.death_fold[r]
    sched = AdjuvantAwakening(wake_on=pool.wake * exposure.awakening_fold[r], wake_off=pool.wake, death=pool.death,
                              window=exposure.endocrine_days[r], death_on=death_on)
    n = rng.binomial(pool.count, np.minimum(sched.probability() * pool.success, 1.0))
    entry = np.repeat(np.arange(len(pool)), n)
    if entry.size == 0:
        return Colonies()
    t = sched.sample_time(entry, rng.random(entry.size), rng.random(entry.size))
    row, organ = r[entry], pool.organ[entry]
    inside = (organ == bone) & (t < exposure.bone_days[row])
    keep = ~inside | (rng.random(entry.size) < exposure.bone_fold[row])
    entry, t, row, organ = entry[keep], t[keep], row[keep], organ[keep]
    return Colonies(row=row, organ=organ, clone=pool.clone[entry], founded=surgery_day[row] + t,
                    origin=np.full(entry.size, DORMANT), rate=colony_rate[row] * growth_fold[organ],
                    luck=rng.random(entry.size))


def no_exposure(n: int) -> AdjuvantExposure:
    """No adjuvant therapy acting on dormant cells (``n`` patients)."""
    return AdjuvantExposure(np.zeros(n), np.ones(n), np.zeros(n), np.ones(n), np.ones(n))
