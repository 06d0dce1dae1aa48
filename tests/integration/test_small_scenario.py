"""The built-in ``small`` scenario is small and still eventful on the per-cell reference engine:
a few percent distant relapses in 2,000 patients, every patient far below the engine's
per-patient unit cap, so its tables and figures show something."""

from __future__ import annotations

import time

import pytest

import seedsoil
from seedsoil.analysis import distant_relapse_mask, site_shares_by_subtype
from seedsoil.engine import reference
from seedsoil.interfaces import plots
from seedsoil.params import default_parameters
from seedsoil.scenario import load_scenario

PATIENTS = 2000
SEED = 20261121  # the CLI's default seed: `seedsoil run small --patients 2000` gives these numbers
RELAPSE_SHARE = (0.006, 0.04)
"""Accepted distant-relapse share. At this seed it is about 1.3% since adjuvant therapy acts
on the seeds (issue 9; 3.0% before); the binomial standard error at 2,000 patients is 0.25
points, so the band is about 3 standard errors below and 10 above: it catches a scenario (or
model) change that empties or floods the tables, not noise."""
UNIT_SHARE_OF_CAP = 0.1
"""Every patient materialises at most this share of the reference engine's MAX_UNITS (about 0.01 today)."""
TIME_BUDGET_S = 60.0
"""Wall clock for the 2,000 patients on one worker (about 4 s alone on one core)."""


@pytest.fixture(scope="module")
def run(request):
    """2,000 patients of `small` on one worker, recording the most units any patient used."""
    most = [0]
    charge = reference.ReferenceEngine._charge

    def counting(self, used, more, patient_id):
        total = charge(self, used, more, patient_id)
        most[0] = max(most[0], total)
        return total

    mp = pytest.MonkeyPatch()
    mp.setattr(reference.ReferenceEngine, "_charge", counting)
    try:
        start = time.perf_counter()
        res = seedsoil.simulate("small", patients=PATIENTS, seed=SEED, workers=1)
        took = time.perf_counter() - start
    finally:
        mp.undo()
    return res, most[0], took


def test_small_runs_on_the_reference_engine():
    scenario, params = load_scenario("small")
    assert scenario.engine == "reference"
    assert params["colonisation.human_scale"] > default_parameters()["colonisation.human_scale"]  # stated teaching choice


@pytest.mark.slow
def test_small_is_eventful(run):
    res, most_units, took = run
    assert res.engine == "reference"
    share = float(distant_relapse_mask(res.patients).mean())
    assert RELAPSE_SHARE[0] <= share <= RELAPSE_SHARE[1], f"distant relapse share {share:.2%}"
    assert 0 < most_units <= UNIT_SHARE_OF_CAP * reference.MAX_UNITS, most_units
    assert took < TIME_BUDGET_S, f"{took:.1f} s"
    sites = site_shares_by_subtype(res.patients)
    assert len(sites) and {"bone", "lung"} <= set(sites["organ"])
    assert res.patients["dmfs_event"].any() and res.patients["os_event"].any()


@pytest.mark.slow
def test_small_figures_are_not_empty(run):
    res, _, _ = run
    figs = plots.render_figures(res.tables())
    assert figs["sites.png"].axes[0].patches, "the sites figure drew no bars"
    assert figs["funnel.png"].axes[0].patches, "the funnel drew no bars"
    assert all(len(figs[k].axes[0].get_lines()) >= 4 for k in ("km_dmfs.png", "km_os.png"))
