"""What every engine does at the start and end of a block of patients: covariates, primaries and
trait combinations from the block's covariate stream (so engines agree patient by patient), and
the funnel totals and canonical order of what they sampled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.engine.covariates import Covariates, Primary, TraitTable, primary_growth, sample_covariates
from seedsoil.engine.history import (ALL, NODES, ORGAN_COLUMNS, CohortHistory, Colonies, DormantPool,
                                     NodalDeposits, stage)
from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, block_rng
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario


@dataclass(frozen=True)
class CohortStart:
    """A block's patients before any cell leaves a primary."""

    patient_id: np.ndarray
    covariates: Covariates
    primary: Primary
    traits: TraitTable

    def __len__(self) -> int:
        return len(self.patient_id)

    def take(self, rows) -> CohortStart:
        return CohortStart(self.patient_id[rows], self.covariates.take(rows), self.primary.take(rows), self.traits)


def start_block(scenario: Scenario, p: ParameterSet, seed: int, block: int, traits: TraitTable) -> CohortStart:
    """Draw the covariates of block ``block`` (patients block*BLOCK_PATIENTS onwards) from its own
    stream and derive primaries."""
    cov = sample_covariates(scenario, p, block_rng(seed, block, Phase.COVARIATES), BLOCK_PATIENTS)
    ids = block * BLOCK_PATIENTS + np.arange(BLOCK_PATIENTS, dtype=np.int64)
    return CohortStart(ids, cov, primary_growth(cov, p), traits)


def finish_block(start: CohortStart, colonies: Colonies, deposits: NodalDeposits, dormant: DormantPool,
                 funnel: np.ndarray) -> CohortHistory:
    """Put sampled seeds in canonical order and complete each patient's funnel (colonies by
    organ, units shed)."""
    cols, deps = colonies.sorted(), deposits.sorted()
    count_colonies(funnel, cols)
    funnel[:, stage("colonies"), NODES] += np.bincount(deps.row, minlength=len(start))
    funnel[:, stage("shed"), ALL] = funnel[:, stage("entered_lymph"), ALL] + funnel[:, stage("entered_blood"), ALL]
    return CohortHistory(start.patient_id, start.covariates, start.primary, start.traits, cols, deps,
                         dormant.sorted(), funnel)


def count_colonies(funnel: np.ndarray, colonies: Colonies) -> None:
    """Add ``colonies`` (founded after surgery) to the per-patient funnel, in place."""
    n_org = ORGAN_COLUMNS.stop - ORGAN_COLUMNS.start
    counts = np.bincount(colonies.row * n_org + colonies.organ, minlength=len(funnel) * n_org)
    funnel[:, stage("colonies"), ORGAN_COLUMNS] += counts.reshape(len(funnel), n_org)
