"""The primary's shedding clock: cells of equal log-size growth between the first cell and
diagnosis, each with its cell-days of tumour (the integrated shedding intensity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.engine.covariates import Primary

GRID_CELLS = 128  # numerical resolution of time-varying stage probabilities (priming, awakening)


@dataclass(frozen=True)
class ShedGrid:
    """Edges (days) of grid cells, cell-days per cell and geometric-mean tumour size per cell."""

    edges: np.ndarray
    mass: np.ndarray
    size: np.ndarray

    @classmethod
    def build(cls, primary: Primary, cells: int = GRID_CELLS) -> ShedGrid:
        law = primary.law
        log_n = np.linspace(0.0, np.log(primary.diagnosis_cells), cells + 1)
        edges = np.asarray(law.time_to(np.exp(log_n)), dtype=float)
        edges[-1] = primary.diagnosis_day
        mass = np.maximum(law.integral(edges[:-1], edges[1:]), 0.0)
        size = np.exp(0.5 * (log_n[:-1] + log_n[1:]))
        return cls(edges=edges, mass=mass, size=size)

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
        t0, t1 = self.edges[k], self.edges[k + 1]
        r = np.log(self.size_ratio) / np.maximum(t1 - t0, 1e-300)
        u = rng.random(n)
        return t0 + np.log1p(u * np.expm1(r * (t1 - t0))) / r

    @property
    def size_ratio(self) -> float:
        """Growth factor of the tumour across one grid cell (constant by construction)."""
        return float(self.size[1] / self.size[0]) if len(self.size) > 1 else float(np.e)
