"""An extreme patient (more colony founders than the engine follows) is thinned, not refused:
the default scenario must run at any size (a patient at about 1 in 200,000 once stopped runs)."""

from __future__ import annotations

import numpy as np

from seedsoil.engine.contract import MAX_EVENTS_PER_PATIENT
from seedsoil.engine.fast import THIN_TO_SHARE, _thin_extreme


def test_only_extreme_rows_are_thinned_to_below_the_cap():
    counts = np.zeros((3, 2, 4), dtype=np.int64)
    counts[0] = [[10, 0, 3, 1], [0, 2, 0, 0]]
    counts[1, :, :] = MAX_EVENTS_PER_PATIENT // 2  # 4x the cap in all
    counts[2, 0, 0] = MAX_EVENTS_PER_PATIENT  # at the cap: kept
    out = _thin_extreme(np.random.default_rng(1), counts)
    np.testing.assert_array_equal(out[[0, 2]], counts[[0, 2]])
    total = out[1].sum()
    assert total <= MAX_EVENTS_PER_PATIENT
    assert abs(total - THIN_TO_SHARE * MAX_EVENTS_PER_PATIENT) < 5 * np.sqrt(MAX_EVENTS_PER_PATIENT)
    # thinned evenly: each cell keeps about the same share
    np.testing.assert_allclose(out[1] / counts[1], THIN_TO_SHARE / 4, rtol=0.01)
