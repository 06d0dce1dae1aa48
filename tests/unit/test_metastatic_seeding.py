"""Metastases in the patient's course (issue 10): they seed further metastases while still silent
and after they are found (through the blood, venous or, from the lung, arterial; into the pleura
by direct growth; to distant lymph nodes by lymph), a regrowing colony is found again, and a brain
metastasis is treated locally on the day it is found. Fixed seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.biology.growth import Gompertz
from seedsoil.biology.organs import OrganTable
from seedsoil.clinic.clock import Clock
from seedsoil.clinic.course import SEEDING_ROUTES, Clinic
from seedsoil.interfaces.execution import _model
from seedsoil.params import default_parameters
from seedsoil.scenario.load import load_scenario, scenario_from_dict

P = default_parameters()
ORG = OrganTable.from_params(P)
BRAIN, LUNG = ORG.names.index("brain"), ORG.names.index("lung")
PLEURA, NODES = ORG.names.index("pleura"), ORG.names.index("distant_nodes")


@pytest.fixture(scope="module")
def rates() -> np.ndarray:
    sc, p = load_scenario("default")
    eng, clinic = _model(sc, p, sc.engine)
    return clinic._seeding_rates(eng.simulate_block(0, 1))


def _run(parameters: dict, patients: int = 20000, seed: int = 4) -> seedsoil.Result:
    sc, _ = load_scenario("default")
    data = sc.model_dump(mode="python")
    data["parameters"] = parameters
    sc, p = scenario_from_dict(data, "<test>")
    return seedsoil.simulate(sc, params=p, patients=patients, seed=seed, workers=1)


def test_lung_metastases_seed_the_brain_past_the_lung_filter(rates):
    venous, arterial = rates[SEEDING_ROUTES.index("venous")], rates[SEEDING_ROUTES.index("arterial")]
    assert (arterial[:, BRAIN] > 2 * venous[:, BRAIN]).all()  # the lung traps most venous cells
    assert (arterial[:, LUNG] < venous[:, LUNG]).all()
    assert (venous[:, BRAIN] > 0).all()


def test_pleural_and_lymphatic_routes_reach_their_organ_only(rates):
    for route, organ, key in (("pleural", PLEURA, "spread.lung_pleura_per_cell_day"),
                              ("lymphatic", NODES, "spread.distant_nodes_per_cell_day")):
        r = rates[SEEDING_ROUTES.index(route)]
        np.testing.assert_array_equal(r[:, organ], P[key])
        assert (np.delete(r, organ, axis=1) == 0).all()


def test_no_shedding_no_spread_means_no_metastasis_seeded_metastases():
    off = _run({"dissemination.metastasis_blood_fold": 0.0, "spread.lung_pleura_per_cell_day": 0.0,
                "spread.distant_nodes_per_cell_day": 0.0}, patients=6000)
    assert (off.patients["n_secondary_colonies"] == 0).all()
    assert not (off.lesions["origin"] == "metastasis").any()


@pytest.fixture(scope="module")
def default_run() -> seedsoil.Result:
    return _run({})


def test_silent_metastases_seed_and_their_seeds_are_found_after_them(default_run):
    les, p = default_run.lesions, default_run.patients
    sec = les[les["origin"] == "metastasis"].merge(p[["patient_id", "distant_metastasis_day"]], on="patient_id")
    assert len(sec) > 20
    # seeded before the first distant metastasis was found (while silent) and after it
    assert (sec["founded_day"] < sec["distant_metastasis_day"]).sum() > 5
    assert (sec["founded_day"] > sec["distant_metastasis_day"]).sum() > 5
    # a seed never shows before the metastases that seeded it
    assert (sec["detection_day"] >= sec["distant_metastasis_day"] - 1e-6).all()
    assert (p["n_secondary_colonies"] > 0).sum() > (p["distant_metastasis_day"].notna()).sum() * 0.05


def _share(p: pd.DataFrame, organ: str) -> float:
    rel = p[p["distant_metastasis_day"].notna()]
    return float(rel["metastasis_sites"].str.split(";").apply(lambda s: organ in s).mean())


def test_more_spread_into_pleura_and_nodes_means_more_involvement(default_run):
    more = _run({"spread.lung_pleura_per_cell_day": 1e-10, "spread.distant_nodes_per_cell_day": 3e-11})
    for organ in ("pleura", "distant_nodes"):
        assert _share(more.patients, organ) > 1.4 * _share(default_run.patients, organ) > 0, organ
    # the same patients until the seeds: the first relapse is unchanged
    pd.testing.assert_series_equal(more.patients["distant_metastasis_day"].isna(),
                                   default_run.patients["distant_metastasis_day"].isna())


def test_first_reach_after_a_kill_counts_the_regrowth():
    law = Gompertz(rate=np.array([2e-3]), capacity=1e12)
    target = law.time_to(np.array([1e8]))
    kill = lambda k, cells, alive: (np.where(alive & (k == 1), 6.0, 0.0), np.ones(1))  # noqa: E731
    t_kill = float(target[0]) + 50.0
    clock = Clock.build(law, np.array([0.0]), np.array([0.1]), np.array([[-np.inf, t_kill]]), np.ones((1, 2)), kill)
    first = clock.first_reach(target)[0]
    assert first == pytest.approx(target[0])
    assert clock.first_reach(target, after=np.array([first / 2]))[0] == pytest.approx(first)
    again = clock.first_reach(target, after=np.array([t_kill]))[0]
    assert again > t_kill + 100  # the kill pushed it back below the size: found again on regrowth
    assert clock.cells_at(np.array([again]))[0] == pytest.approx(1e8, rel=1e-6)
    assert clock.first_reach(target, after=np.array([t_kill - 10.0]))[0] == pytest.approx(t_kill - 10.0, abs=1e-3)


def test_a_brain_metastasis_is_treated_on_the_day_it_is_found():
    """Two brain growths on a line started at day 0: the one reaching the brain's detection size
    before the next line (day 400) is treated on that day; the other is left as it was."""
    clinic = Clinic(P, ORG, 10.0)
    size = clinic.detect_cells[BRAIN]
    law = Gompertz(rate=np.array([3e-3, 3e-3]), capacity=1e12)
    founded = 200.0 + np.array([0.0, 700.0]) - law.time_to(np.array([size, size]))  # found on days 200, 900
    clock = Clock.build(law, founded, np.array([0.0, 0.0]), np.array([[-np.inf, 0.0], [-np.inf, 0.0]]), np.ones((2, 2)))
    before = clock.cells_at(np.array([250.0, 250.0]))
    rows = np.array([0, 1])
    clinic._brain_local(clock, rows, np.array([True, True]), np.array([0.0, 0.0]), np.array([400.0, 400.0]), 4.6)
    assert clock.T[0, -1] == pytest.approx(200.0, abs=1e-3) and clock.T[1, -1] == 0.0
    after = clock.cells_at(np.array([250.0, 250.0]))
    assert after[0] < before[0] * np.exp(-3.0)  # regrowing from the kill on day 200
    assert clock.cells_at(np.array([200.0 + 1e-3, 0.0]))[0] == pytest.approx(size * np.exp(-4.6), rel=1e-3)
    assert after[1] == pytest.approx(before[1])


def test_a_new_lesion_outside_the_brain_ends_a_line():
    """Patient 0 on a line from day 0: a liver metastasis already found (its regrowth is judged
    elsewhere), a new brain metastasis (treated locally, the line goes on) and a small liver one
    found on day 300: the line's progression by new lesion is day 300. Patient 1 has only a found
    lesion: no new lesion ever."""
    clinic = Clinic(P, ORG, 10.0)
    liver = ORG.names.index("liver")
    organ = np.array([liver, BRAIN, liver, liver])
    size = clinic.detect_cells[organ]
    law = Gompertz(rate=np.full(4, 3e-3), capacity=1e12)
    found = np.array([-100.0, 150.0, 300.0, -50.0])  # days each reaches its organ's detection size
    clock = Clock.build(law, found - law.time_to(size), np.zeros(4), np.full((4, 1), -np.inf), np.ones((4, 1)))
    rows, start = np.array([0, 0, 0, 1]), np.array([0.0, 0.0])
    small = clock.cells_at(start[rows]) < size
    day = clinic._new_lesion(clock, rows, organ, small, law.time_to(size), start, 2)
    assert day[0] == pytest.approx(300.0, abs=1e-3)
    assert day[1] == np.inf
