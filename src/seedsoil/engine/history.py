"""A block of patients' biological histories as sampled by an engine (days since each patient's
first cancer cell): covariates and primaries as arrays, colonies and nodal deposits as ragged
tables with the row (patient within the block) they belong to, and per-patient funnel counts."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from seedsoil.biology.organs import ORGANS
from seedsoil.engine.covariates import Covariates, Primary, TraitTable

FUNNEL_STAGES = (
    "shed", "entered_lymph", "entered_blood", "survived_circulation", "arrested",
    "extravasated", "dormant", "micrometastases", "colonies", "detected",
)
FUNNEL_SITES = ("all",) + ORGANS + ("axillary_nodes",)
ALL, NODES = 0, len(FUNNEL_SITES) - 1  # funnel columns: whole body, axillary nodes (organs in between)
ORGAN_COLUMNS = slice(1, NODES)
ORIGINS = ("direct", "dormant", "metastasis")
DIRECT, DORMANT, METASTATIC = 0, 1, 2  # seeded by the primary or a deposit; after dormancy; by a metastasis


def empty_funnel(patients: int | None = None) -> np.ndarray:
    """Counts by (stage, site), int64; with ``patients``, one such table per patient."""
    shape = (len(FUNNEL_STAGES), len(FUNNEL_SITES))
    return np.zeros(shape if patients is None else (patients,) + shape, dtype=np.int64)


def stage(name: str) -> int:
    return FUNNEL_STAGES.index(name)


def _int() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


def _float() -> np.ndarray:
    return np.empty(0)


@dataclass
class _Ragged:
    """Columns of equal length; ``row`` is the patient's position in its block."""

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def concat(cls, parts: list):
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    ORDER: ClassVar[tuple[str, ...]] = ()
    """Fields of the canonical order, most significant first (engines compare row by row)."""

    def sorted(self) -> _Ragged:
        return self.take(np.lexsort(tuple(getattr(self, f) for f in reversed(self.ORDER))))

    def take(self, idx) -> _Ragged:
        return type(self)(*(getattr(self, f.name)[idx] for f in fields(self)))

    def for_rows(self, rows: np.ndarray) -> _Ragged:
        """The entries of the given block rows, renumbered 0..len(rows)-1 in that order."""
        new = np.full(int(max(self.row.max(initial=-1), rows.max(initial=-1))) + 1, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        keep = np.flatnonzero(new[self.row] >= 0) if len(self) else _int()
        out = self.take(keep)
        out.row = new[out.row]
        return out.sorted()


@dataclass
class Colonies(_Ragged):
    """Colonies that escaped early extinction: block row, organ and clone index, founding day,
    origin (:data:`ORIGINS`), growth rate per day (Gompertz, to the carrying capacity)."""

    row: np.ndarray = field(default_factory=_int)
    organ: np.ndarray = field(default_factory=_int)
    clone: np.ndarray = field(default_factory=_int)
    founded: np.ndarray = field(default_factory=_float)
    origin: np.ndarray = field(default_factory=_int)
    rate: np.ndarray = field(default_factory=_float)
    luck: np.ndarray = field(default_factory=_float)
    """A uniform drawn when the colony is founded: it decides the colony's fate under therapy
    (eradicated when its chance of surviving a kill is below ``luck``), so the same colony meets
    a stronger therapy with at least as bad an outcome in every arm of a comparison."""
    ORDER = ("row", "founded", "organ", "clone")


@dataclass
class NodalDeposits(_Ragged):
    """Axillary deposits that escaped extinction: block row, node index (0 = first sentinel),
    clone, founding day, growth rate per day (Gompertz, to the node's capacity)."""

    row: np.ndarray = field(default_factory=_int)
    node: np.ndarray = field(default_factory=_int)
    clone: np.ndarray = field(default_factory=_int)
    founded: np.ndarray = field(default_factory=_float)
    rate: np.ndarray = field(default_factory=_float)
    luck: np.ndarray = field(default_factory=_float)
    """As :attr:`Colonies.luck`: the deposit's fate under therapy."""
    ORDER = ("row", "founded", "node", "clone")


@dataclass
class DormantPool(_Ragged):
    """Solitary cells still dormant at surgery, grouped: block row, organ, clone, how many, the
    probability that one of them founds a colony once awake (progression x escape from early
    extinction, averaged over their arrival days), and the untreated awakening and death rates
    per day. What they do after surgery depends on therapy: :mod:`seedsoil.engine.adjuvant`."""

    row: np.ndarray = field(default_factory=_int)
    organ: np.ndarray = field(default_factory=_int)
    clone: np.ndarray = field(default_factory=_int)
    count: np.ndarray = field(default_factory=_int)
    success: np.ndarray = field(default_factory=_float)
    wake: np.ndarray = field(default_factory=_float)
    death: np.ndarray = field(default_factory=_float)
    ORDER = ("row", "organ", "clone", "success")


@dataclass
class CohortHistory:
    """Everything the clinic needs about a block of patients: who they are, their primaries,
    seeds that grow, axillary deposits, cells still dormant at surgery, and each patient's
    funnel counts. Until :meth:`seedsoil.engine.contract.Engine.after_surgery` has run, colonies
    are those founded before surgery only."""

    patient_id: np.ndarray
    covariates: Covariates
    primary: Primary
    traits: TraitTable
    colonies: Colonies
    deposits: NodalDeposits
    dormant: DormantPool
    funnel: np.ndarray  # (patients, stages, sites)

    def __len__(self) -> int:
        return len(self.patient_id)

    @property
    def clone_names(self) -> tuple[str, ...]:
        return self.traits.clone_names

    def take(self, rows) -> CohortHistory:
        """The history of the given block rows only (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return CohortHistory(self.patient_id[rows], self.covariates.take(rows), self.primary.take(rows), self.traits,
                             self.colonies.for_rows(rows), self.deposits.for_rows(rows), self.dormant.for_rows(rows),
                             self.funnel[rows])

    def with_colonies(self, more: Colonies, funnel: np.ndarray | None = None) -> CohortHistory:
        """This history with ``more`` colonies (canonical order) and, if given, a new funnel."""
        return CohortHistory(self.patient_id, self.covariates, self.primary, self.traits,
                             Colonies.concat([self.colonies, more]).sorted(), self.deposits, self.dormant,
                             self.funnel if funnel is None else funnel)
