"""How each organ kills (issue 10): the failure load of biology.organs and its use in the clinic.

The death hazard after a first metastasis is ``mortality.burden_hazard_per_day`` x the sum over
organs of ``(burden / reserve) ** exponent`` plus a saturating complication (effusion, ascites,
obstruction). The tests check the shape (an exponent above 1 hides the loss below the reserve
and steepens it above; a complication's harm rises with burden and never exceeds its fold),
that every organ has a way of killing, and in a fixed-seed cohort that a larger liver reserve
lengthens survival of women whose relapse involves the liver and makes liver failure a rarer
cause of death.
"""

from __future__ import annotations

import numpy as np
import pytest

import seedsoil
from seedsoil.biology.organs import FAILURE_MODES, ORGANS, OrganTable, failure_load
from seedsoil.params import default_parameters


def test_an_exponent_above_one_hides_loss_below_the_reserve_and_steepens_it_above():
    burden = np.array([1e9, 1e10, 1e11])
    reserve, none, off = np.full(3, 1e10), np.full(3, 1e12), np.zeros(3)
    linear = failure_load(burden, reserve, np.ones(3), none, off)
    steep = failure_load(burden, reserve, np.full(3, 2.0), none, off)
    assert steep[0] < linear[0]
    assert steep[1] == pytest.approx(linear[1])
    assert steep[2] > linear[2]


def test_a_complication_rises_with_burden_and_saturates_at_its_fold():
    burden = np.geomspace(1e6, 1e13, 50)
    fold = 0.02
    load = failure_load(burden, np.full(50, np.inf), np.ones(50), np.full(50, 1e9), np.full(50, fold))
    assert np.all(np.diff(load) > 0)
    assert load.max() < fold
    assert load[-1] > 0.99 * fold  # 1e13 cells: fully established
    assert failure_load(np.array([1e9]), np.array([np.inf]), np.ones(1), np.array([1e9]),
                        np.array([fold]))[0] == pytest.approx(fold / 2)


def test_every_organ_has_a_way_of_killing_and_only_named_complications_do_harm():
    p = default_parameters()
    organs = OrganTable.from_params(p)
    assert set(FAILURE_MODES) == set(ORGANS)
    for o in ORGANS:
        mode, complication = FAILURE_MODES[o]
        assert mode
        harm = p[f"organ.{o}.complication_hazard_fold"]
        assert (harm > 0) == bool(complication), o
    # the seed document: the liver fails with a more modest burden than the skeleton withstands
    assert organs.tolerated_burden_cells[ORGANS.index("liver")] < organs.tolerated_burden_cells[ORGANS.index("bone")]
    # an organ table reads its own values: a larger reserve means less load for the same burden
    b = np.full(len(ORGANS), 1e10)
    assert np.all(organs.failure_load(b) > organs.failure_load(b, organs.tolerated_burden_cells * 10))


def _liver_relapses(overrides: dict[str, float]):
    from seedsoil.scenario import load_builtin

    sc = load_builtin("default")[0]
    sc = sc.model_copy(update={"parameters": {**sc.parameters, **overrides}})
    p = seedsoil.simulate(sc, patients=6000, seed=11, workers=1).patients
    rel = p[p.distant_metastasis_day.notna()]
    liver = rel[rel.first_metastasis_sites.str.contains("liver")]
    after = (liver.os_days - liver.distant_metastasis_day) / 365.25
    return liver, after, (rel.death_cause == "organ_failure:liver").mean()


@pytest.mark.slow
def test_a_larger_liver_reserve_lengthens_survival_with_liver_metastases():
    """Fixed seed 11, 6,000 patients: the same women (the reserve acts only after relapse, so the
    same ones relapse in the liver); a 10-fold reserve must lengthen their median survival after
    relapse by at least 20% and lower the share of deaths from liver failure."""
    base = default_parameters()["organ.liver.tolerated_burden_cells"]
    liver, after, share = _liver_relapses({})
    liver_big, after_big, share_big = _liver_relapses({"organ.liver.tolerated_burden_cells": base * 10})
    assert len(liver) > 50
    assert list(liver.patient_id) == list(liver_big.patient_id)
    assert np.median(after_big) > 1.2 * np.median(after)
    assert share_big < share
