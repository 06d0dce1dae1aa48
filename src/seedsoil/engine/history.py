"""A patient's biological history as sampled by an engine (days since the first cancer cell)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seedsoil.biology.organs import ORGANS
from seedsoil.biology.therapy import TreatmentPlan
from seedsoil.biology.traits import Traits
from seedsoil.engine.covariates import Covariates, Primary

FUNNEL_STAGES = (
    "shed", "entered_lymph", "entered_blood", "survived_circulation", "arrested",
    "extravasated", "dormant", "micrometastases", "colonies", "detected",
)
FUNNEL_SITES = ("all",) + ORGANS + ("axillary_nodes",)
ORIGINS = ("direct", "dormant")


def empty_funnel() -> np.ndarray:
    """Counts by (stage, site); int64."""
    return np.zeros((len(FUNNEL_STAGES), len(FUNNEL_SITES)), dtype=np.int64)


def stage(name: str) -> int:
    return FUNNEL_STAGES.index(name)


@dataclass
class Colonies:
    """Colonies that escaped early extinction: organ and clone index, founding day, origin, growth rate per day."""

    organ: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    clone: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    founded: np.ndarray = field(default_factory=lambda: np.empty(0))
    origin: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    rate: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return len(self.founded)

    @classmethod
    def concat(cls, parts: list[Colonies]) -> Colonies:
        if not parts:
            return cls()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("organ", "clone", "founded", "origin", "rate")))

    def sorted(self) -> Colonies:
        """Canonical order (founding day, organ, clone) so that engines compare row by row."""
        idx = np.lexsort((self.clone, self.organ, self.founded))
        return Colonies(self.organ[idx], self.clone[idx], self.founded[idx], self.origin[idx], self.rate[idx])


@dataclass
class NodalDeposits:
    """Axillary deposits that escaped extinction: node index (0 = first sentinel), clone, founding day, rate."""

    node: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    clone: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    founded: np.ndarray = field(default_factory=lambda: np.empty(0))
    rate: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return len(self.founded)


@dataclass
class PatientHistory:
    """Everything the clinic needs: who she is, her primary, seeds that grow, and the funnel."""

    patient_id: int
    covariates: Covariates
    primary: Primary
    clone_names: tuple[str, ...]
    traits: list[Traits]
    plan: TreatmentPlan
    colonies: Colonies
    deposits: NodalDeposits
    funnel: np.ndarray
