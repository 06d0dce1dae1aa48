"""One contract test over every registered engine (GillesPy2 style): the invariants any engine
must keep, checked on the same eventful patients for each.

* no unit created or lost between stages: shed = lymph + blood; blood units that survive
  circulation all arrest somewhere; extravasated <= arrested and dormant + micrometastases <=
  extravasated per organ; colonies and deposits are counted in the funnel exactly;
* times inside each patient's life: every colony and deposit is founded after her first cell,
  deposits and direct colonies before surgery;
* the history schema: aligned arrays of the documented dtypes, rows inside the block.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from seedsoil.engine import ENGINES, CohortHistory, get_engine
from seedsoil.engine.history import DIRECT, FUNNEL_SITES, FUNNEL_STAGES, NODES, ORGAN_COLUMNS, stage
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.scenario import load_scenario, scenario_from_dict

SEED = 7
ROWS = np.arange(40)
EVENTFUL = {  # rare events made frequent so the invariants are exercised (small scenario)
    "dissemination.human_shedding_scale": 3e-4,
    "colonisation.human_scale": 1.0,
    "colonisation.progress_prob": 0.5,
    "nodes.deposit_prob": 2e-4,
    "tmem.log_sd": 0.1,
}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def history(request) -> CohortHistory:
    sc, _ = load_scenario("small")
    data = sc.model_dump(mode="python")
    data["parameters"] = {**data["parameters"], **EVENTFUL}
    sc, p = scenario_from_dict(data, "<eventful small>")
    return get_engine(request.param)(sc, p).simulate_rows(0, SEED, ROWS)


def test_registry_is_the_one_list_of_engines():
    sc, _ = load_scenario("small")
    for name, cls in ENGINES.items():
        assert cls.name == name and cls.capabilities is not None
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("turbo")
    with pytest.raises(ValueError, match="'fast'"):
        scenario_from_dict({**sc.model_dump(mode="python"), "engine": "turbo"}, "<x>")


def test_events_happen(history):
    """The scenario is eventful enough for the invariants below to mean something."""
    assert len(history.colonies) > 20 and len(history.deposits) > 20
    assert (history.colonies.origin == DIRECT).any() and (history.colonies.origin != DIRECT).any()


def test_no_unit_created_or_lost(history):
    f = history.funnel
    s = {name: f[:, stage(name)] for name in FUNNEL_STAGES}
    all_ = 0
    np.testing.assert_array_equal(s["shed"][:, all_], s["entered_lymph"][:, all_] + s["entered_blood"][:, all_])
    assert (s["survived_circulation"][:, all_] <= s["entered_blood"][:, all_]).all()
    np.testing.assert_array_equal(s["arrested"][:, ORGAN_COLUMNS].sum(axis=1), s["survived_circulation"][:, all_])
    np.testing.assert_array_equal(s["arrested"][:, NODES], s["entered_lymph"][:, all_])
    assert (s["extravasated"][:, ORGAN_COLUMNS] <= s["arrested"][:, ORGAN_COLUMNS]).all()
    assert (s["dormant"] + s["micrometastases"] <= s["extravasated"]).all()
    # funnel order: every colony comes from a micrometastasis or a dormant cell of its organ
    assert (s["colonies"][:, ORGAN_COLUMNS] <= (s["dormant"] + s["micrometastases"])[:, ORGAN_COLUMNS]).all()
    n_org = ORGAN_COLUMNS.stop - ORGAN_COLUMNS.start
    c, d = history.colonies, history.deposits
    per = np.bincount(c.row * n_org + c.organ, minlength=len(history) * n_org).reshape(len(history), n_org)
    np.testing.assert_array_equal(s["colonies"][:, ORGAN_COLUMNS], per)
    np.testing.assert_array_equal(s["colonies"][:, NODES], np.bincount(d.row, minlength=len(history)))
    assert (s["colonies"][:, NODES] <= s["arrested"][:, NODES]).all()
    assert (f >= 0).all() and f.shape[1:] == (len(FUNNEL_STAGES), len(FUNNEL_SITES))


def test_times_inside_each_life(history):
    t_dx = history.primary.diagnosis_day
    c, d = history.colonies, history.deposits
    assert (c.founded >= 0).all() and (d.founded >= 0).all()
    assert (d.founded <= t_dx[d.row]).all()
    direct = c.origin == DIRECT
    assert (c.founded[direct] <= t_dx[c.row[direct]]).all()
    assert np.isfinite(c.founded).all() and (c.rate > 0).all() and (d.rate > 0).all()


def test_history_schema(history):
    n = len(history)
    assert n == len(ROWS)
    np.testing.assert_array_equal(history.patient_id, ROWS)
    for table in (history.colonies, history.deposits):
        lengths = {len(getattr(table, f.name)) for f in fields(table)}
        assert len(lengths) == 1
        assert table.row.dtype == np.int64 and ((table.row >= 0) & (table.row < n)).all()
    assert history.colonies.organ.dtype == np.int64 and history.colonies.founded.dtype == np.float64
    assert history.funnel.dtype == np.int64
    for arr in (history.covariates.age, history.primary.diagnosis_day, history.primary.law.rate):
        assert arr.shape == (n,)
    assert n <= BLOCK_PATIENTS
