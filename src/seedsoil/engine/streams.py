"""Random streams keyed by (seed, patient index): a patient's history never depends on chunk
size, worker count or order."""

from __future__ import annotations

import numpy as np


BIOLOGY, CLINIC = 0, 1  # independent streams of one patient: her biology, her clinical course


def patient_rng(seed: int, patient_id: int, stream: int = BIOLOGY) -> np.random.Generator:
    """The independent generator of one patient's ``stream`` (PCG64 from SeedSequence(seed, (id, stream)))."""
    key = (int(patient_id), int(stream))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))
