"""The engine contract: every engine samples the same model for a block of patients and says
what it can do (GillesPy2-style solver base class; one contract test runs over all of them)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from seedsoil.biology.organs import OrganTable
from seedsoil.engine.adjuvant import AdjuvantExposure, awaken_after_surgery
from seedsoil.engine.history import CohortHistory, Colonies, DormantPool
from seedsoil.engine.start import CohortStart, count_colonies
from seedsoil.engine.streams import Phase, block_rng
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, ScenarioError
from seedsoil.scenario.load import _MISSING

MAX_MEAN_UNITS = 1e17
"""Largest expected number of units one tumour mass may shed (int64 counts hold 9e18)."""
MAX_EVENTS_PER_PATIENT = 5_000_000
"""Most colony founders or nodal deposits one patient may have (bounds a worker's memory to about
half a GiB): the default cohort's 99th percentile is about 150, its most extreme patient in ten
million about 5e5."""
MAX_EVENTS_PER_BLOCK = 10_000_000
"""Most colony founders or deposits in one block of patients (about 1.5 GiB of a worker's memory);
the default cohort's blocks hold about 10,000."""
DRIVERS = ("dissemination.human_shedding_scale", "dissemination.shed_rate_per_cell_day", "tmem.reference_score",
           "tmem.dose_exponent", "colonisation.human_scale", "colonisation.progress_prob", "nodes.deposit_prob")
"""Parameters that set how many seeds a patient makes, named when a scenario makes too many."""


class ModelRangeError(ScenarioError):
    """Parameters, each within its range, that together make patients shed or seed more than the
    engine follows: one clear line naming the parameters that drive it (the CLI exits 2)."""

    @classmethod
    def too_many(cls, scenario: Scenario, params: ParameterSet, what: str, count: float, limit: float,
                 patient: int) -> ModelRangeError:
        set_here = {k: params[k] for k in DRIVERS if k in scenario.parameters}
        shown = ", ".join(f"{k} = {v:g}" for k, v in (set_here or {k: params[k] for k in DRIVERS[:3]}).items())
        return cls(f"scenario {scenario.name!r}", "parameters", _MISSING,
                   f"patient {patient} would have {count:.3g} {what}, more than the {limit:.3g} the engine follows: "
                   f"together these parameters make dissemination implausibly efficient ({shown}); lower them")


@dataclass(frozen=True)
class Capabilities:
    """What an engine offers: ``per_cell`` (every disseminated unit materialised, followable),
    ``batch`` (vectorised over patients: cost per patient in microseconds), and the most units
    one patient may shed (None: no limit)."""

    per_cell: bool
    batch: bool
    max_units_per_patient: int | None


class Engine(ABC):
    """Samples biological histories for whole random-stream blocks of patients.

    ``simulate_block(block, seed)`` returns the :class:`CohortHistory` of patients
    ``block * BLOCK_PATIENTS`` onwards; ``rows`` restricts it to some of them (an engine may then
    skip the others' cascade, as the per-cell engine does). Covariates always come from the
    block's covariate stream (:func:`~seedsoil.engine.start.start_block`), except in
    ``simulate_start``, where the caller gives them (virtual twins of observed patients)."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    description: ClassVar[str] = ""

    def __init__(self, scenario: Scenario, params: ParameterSet):
        self.scenario, self.p = scenario, params
        self.organs = OrganTable.from_params(params)

    @abstractmethod
    def simulate_block(self, block: int, seed: int) -> CohortHistory:
        """The histories of every patient of ``block``."""

    @abstractmethod
    def simulate_start(self, start: CohortStart, seed: int, block: int) -> CohortHistory:
        """The histories of the patients of ``start`` (covariates and primaries given), with the
        seeding draws of ``block`` (a batch engine) or of each ``start.patient_id`` (per cell)."""

    def simulate_rows(self, block: int, seed: int, rows) -> CohortHistory:
        """The histories of some patients of ``block`` (block rows), in that order."""
        return self.simulate_block(block, seed).take(rows)

    def after_surgery(self, h: CohortHistory, exposure: AdjuvantExposure, seed: int, block: int) -> CohortHistory:
        """``h`` with the colonies that its dormant cells found after surgery under ``exposure``,
        drawn from the block's adjuvant stream (whole blocks, so a patient's draws do not depend
        on which others are simulated: the fast engine always simulates whole blocks)."""
        return with_new_colonies(h, self._awaken(h.dormant, h, exposure, block_rng(seed, block, Phase.ADJUVANT)))

    def _awaken(self, pool: DormantPool, h: CohortHistory, exposure: AdjuvantExposure, rng) -> Colonies:
        return awaken_after_surgery(pool, h.primary.diagnosis_day, h.primary.law.rate, self.organs.growth_fold,
                                    self.organs.names.index("bone"), exposure, rng)


def with_new_colonies(h: CohortHistory, new: Colonies) -> CohortHistory:
    """``h`` with colonies founded after surgery added, in canonical order and in the funnel."""
    funnel = h.funnel.copy()
    count_colonies(funnel, new)
    return h.with_colonies(new, funnel)
