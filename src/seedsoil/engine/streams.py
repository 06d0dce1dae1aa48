"""Random streams keyed by (seed, block, phase): a patient's history depends only on the seed
and her index, never on chunk size, worker count, order or the run's length.

Patients are simulated in fixed blocks of :data:`BLOCK_PATIENTS` (part of the stream
definition, like the seed: a run of N patients simulates whole blocks and keeps the first N).
Each phase of a patient's life draws from its own stream, so changing what happens after
surgery (therapy) leaves everything before it (covariates, primary, nodes, pre-surgical seeds)
unchanged: the pairing of arms in a comparison.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

BLOCK_PATIENTS = 1024
"""Patients per random-stream block (fixed: changing it changes every result, like the seed)."""


class Phase(IntEnum):
    """Independent streams of one block, in the order of a patient's life."""

    COVARIATES = 0  # who she is and how her primary grows
    SEEDING = 1  # the cascade until surgery: shedding, nodes, colonies and dormant cells
    ADJUVANT = 2  # what the seeds do after surgery under adjuvant therapy (dormancy awakening)
    CLINIC = 3  # the clinical course: other-cause death, CTC draws, residual disease, metastatic lines, seeds of metastases


def block_rng(seed: int, block: int, phase: Phase) -> np.random.Generator:
    """The generator of one (block, phase): PCG64 from SeedSequence(seed, spawn_key=(block, phase))."""
    key = (int(block), int(phase))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


PER_PATIENT_KEY = 1 << 30
"""spawn_key offset of per-patient streams (the per-cell reference engine), apart from blocks."""


def patient_rng(seed: int, patient_id: int, phase: Phase) -> np.random.Generator:
    """A per-patient generator for the per-cell reference engine (cost is no concern there)."""
    key = (PER_PATIENT_KEY + int(patient_id), int(phase))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


def blocks_for(first: int, stop: int) -> range:
    """Indices of the blocks that hold patients ``first .. stop-1``."""
    return range(first // BLOCK_PATIENTS, -(-stop // BLOCK_PATIENTS))
