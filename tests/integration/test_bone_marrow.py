"""Bone-marrow aspirate at diagnosis (issue 11, part 2): disseminated tumour cells counted from the
cells dormant in bone at surgery. Fixed seed; the comparisons are on the same patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.scenario.load import load_scenario, scenario_from_dict

PATIENTS, SEED = 8000, 9


def _run(parameters: dict) -> pd.DataFrame:
    sc, _ = load_scenario("default")
    data = sc.model_dump(mode="python")
    data["parameters"] = parameters
    sc, p = scenario_from_dict(data, "<test>")
    return seedsoil.simulate(sc, params=p, patients=PATIENTS, seed=SEED, workers=1).patients


@pytest.fixture(scope="module")
def default() -> pd.DataFrame:
    return _run({})


def test_a_larger_aspirate_never_counts_fewer_cells(default):
    big = _run({"marrow.aspirate_cells": 2e7})
    assert (big["dtc_bone_marrow"] >= default["dtc_bone_marrow"]).all()
    assert (big["dtc_bone_marrow"] >= 1).sum() > 2 * (default["dtc_bone_marrow"] >= 1).sum() > 0
    # the aspirate is read at diagnosis: nothing else changes
    pd.testing.assert_series_equal(big["distant_metastasis_day"], default["distant_metastasis_day"])


def test_counting_all_nucleated_cells_instead_of_the_mononuclear_fraction_finds_fewer(default):
    """Density separation discards most marrow cells but keeps the tumour cells: 2 x 10^6 counted
    mononuclear cells sample more of the marrow than 2 x 10^6 unseparated ones."""
    whole = _run({"marrow.mononuclear_share": 1.0})
    assert (whole["dtc_bone_marrow"] <= default["dtc_bone_marrow"]).all()
    assert (whole["dtc_bone_marrow"] >= 1).sum() < (default["dtc_bone_marrow"] >= 1).sum()


def test_no_dormant_cells_in_bone_means_no_marrow_cells():
    p = _run({"organ.bone.dormancy_share": 0.0})
    assert (p["dtc_bone_marrow"] == 0).all()


def test_marrow_cells_are_commoner_with_positive_nodes(default):
    """Both come from the same dissemination (Braun et al. 2005: DTC go with nodal status)."""
    m0 = default[default["M"] == "M0"]
    pos = (m0["dtc_bone_marrow"] >= 1).to_numpy()
    node = (m0["positive_nodes"] > 0).to_numpy()
    a, b = pos[node].mean(), pos[~node].mean()
    se = np.sqrt(a * (1 - a) / node.sum() + b * (1 - b) / (~node).sum())
    assert a - b > 3 * se, (a, b)
