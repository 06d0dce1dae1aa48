"""The engine contract: every engine samples the same model for a block of patients and says
what it can do (GillesPy2-style solver base class; one contract test runs over all of them)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from seedsoil.engine.history import CohortHistory
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario


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
    block's covariate stream (:func:`~seedsoil.engine.start.start_block`)."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    description: ClassVar[str] = ""

    def __init__(self, scenario: Scenario, params: ParameterSet):
        self.scenario, self.p = scenario, params

    @abstractmethod
    def simulate_block(self, block: int, seed: int) -> CohortHistory:
        """The histories of every patient of ``block``."""

    def simulate_rows(self, block: int, seed: int, rows) -> CohortHistory:
        """The histories of some patients of ``block`` (block rows), in that order."""
        return self.simulate_block(block, seed).take(rows)
