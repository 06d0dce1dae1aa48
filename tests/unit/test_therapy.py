"""Therapy mechanisms one by one: Norton-Simon kill, the therapy clock, the guideline."""

from __future__ import annotations

import numpy as np
import pytest

from seedsoil.biology.growth import Gompertz
from seedsoil.biology.therapy import kill_outcome, norton_simon_log_kill, penetrated_fold, penetrated_fraction
from seedsoil.clinic.clock import Clock
from seedsoil.clinic.guideline import TreatmentPlan, assign, line_regimens
from seedsoil.engine.covariates import sample_covariates
from seedsoil.params import default_parameters
from seedsoil.scenario import Treatment, load_builtin

P = default_parameters()
K = 1e12


def test_norton_simon_kills_small_and_fast_colonies_most():
    small, large = norton_simon_log_kill(1e-3, [1e3, 1e9], K, 2.0, 100.0)
    assert small > large > 0
    slow, fast = norton_simon_log_kill(np.array([5e-4, 2e-3]), 1e6, K, 2.0, 100.0)
    assert fast == pytest.approx(4 * slow)
    assert norton_simon_log_kill(1e-3, 1e6, K, 0.0, 100.0) == 0.0


def test_kill_outcome_eradicates_tiny_colonies_only():
    left, chance = kill_outcome(np.array([10.0, 1e8]), np.array([10.0, 10.0]))
    assert chance[0] < 0.01 and chance[1] == pytest.approx(1.0)
    assert left[1] == pytest.approx(1e8 * np.exp(-10))


def test_penetration_limits():
    assert penetrated_fold(0.3, 0.0) == 1.0 and penetrated_fold(0.3, 1.0) == pytest.approx(0.3)
    assert penetrated_fraction(0.01, 0.0) == 1.0 and penetrated_fraction(0.01, 1.0) == pytest.approx(0.01)


def _clock(T, S, kill=None, founded=0.0, luck=0.5, rate=2e-3):
    law = Gompertz(rate=np.array([rate]), capacity=K)
    T = np.array([[-np.inf] + list(T)])
    return Clock.build(law, np.array([founded]), np.array([luck]), T, np.array([S]), kill), law


def test_clock_without_therapy_is_the_untreated_law():
    clock, law = _clock([100.0, 300.0], [1.0, 1.0, 1.0], founded=10.0)
    t = np.array([[5.0, 50.0, 200.0, 400.0, 2000.0]])
    np.testing.assert_allclose(clock.cells_at(t)[0, 1:], law.size(t[0, 1:] - 10.0), rtol=1e-12)
    assert clock.cells_at(t)[0, 0] == 0.0  # before founding
    target = law.time_to(1e9)[0]
    assert clock.first_reach(np.array([target]))[0] == pytest.approx(10.0 + target)


def test_slowing_and_kills_delay_detection():
    target = np.array([Gompertz(rate=2e-3, capacity=K).time_to(1e9)])
    free, _ = _clock([100.0, 500.0], [1.0, 1.0, 1.0])
    slow, _ = _clock([100.0, 500.0], [1.0, 0.3, 1.0])
    kill = lambda k, cells, alive: (np.where(alive & (k == 1), 5.0, 0.0), np.ones(1))  # noqa: E731
    killed, _ = _clock([100.0, 500.0], [1.0, 1.0, 1.0], kill)
    t_free, t_slow, t_kill = (c.first_reach(target)[0] for c in (free, slow, killed))
    assert t_free < t_slow and t_free < t_kill
    assert t_slow == pytest.approx(t_free + 0.7 * 400.0)  # 400 days at 0.3 speed lose 280 days


def test_eradication_is_monotone_in_luck_and_kill():
    def dies(luck, log_kill):
        kill = lambda k, cells, alive: (np.where(alive & (k == 1), log_kill, 0.0), np.ones(1))  # noqa: E731
        c, _ = _clock([5.0], [1.0, 1.0], kill, luck=luck)
        return np.isfinite(c.dead[0])

    assert not dies(0.01, 3.0) and dies(0.99, 30.0)
    # a colony lost to a weaker kill is lost to a stronger one too
    for luck in np.linspace(0.01, 0.99, 25):
        assert dies(luck, 12.0) <= dies(luck, 20.0)


def _cohort(n=4000):
    sc, p = load_builtin("default")
    return sample_covariates(sc, p, np.random.default_rng(3), n)


def _assign(cov, **kw):
    nodes = (np.random.default_rng(4).random(len(cov)) < 0.3).astype(int) * 2
    return assign(cov, nodes, np.zeros(len(cov), dtype=bool), Treatment(**kw), P)


def test_guideline_gives_each_therapy_only_where_it_can_act():
    cov = _cohort()
    plan = _assign(cov)
    assert isinstance(plan, TreatmentPlan)
    assert not plan.endocrine[~(cov.er | cov.pr)].any() and plan.endocrine[cov.er].mean() > 0.95
    assert not plan.anti_her2[~cov.her2].any() and plan.anti_her2[cov.her2].mean() > 0.5
    assert not plan.bone_agent[~cov.postmenopausal].any()
    assert plan.radiotherapy[plan.bcs].all()
    forced = _assign(cov, anti_her2=True, endocrine=False)
    assert forced.anti_her2[cov.her2].all() and not forced.anti_her2[~cov.her2].any() and not forced.endocrine.any()


def test_era_1990_has_no_anti_her2_nor_bone_agents_and_adjuvant_none_switches_all_off():
    cov = _cohort()
    old = _assign(cov, era="1990")
    assert not old.anti_her2.any() and not old.bone_agent.any() and old.endocrine.any()
    none = _assign(cov, adjuvant="none")
    for f in ("endocrine", "chemotherapy", "anti_her2", "her2_tki", "bone_agent"):
        assert not getattr(none, f).any(), f


def test_no_adjuvant_therapy_for_metastatic_disease_at_diagnosis():
    cov = _cohort(500)
    m1 = np.ones(len(cov), dtype=bool)
    plan = assign(cov, np.zeros(len(cov), dtype=int), m1, Treatment(chemotherapy=True), P)
    assert not (plan.chemotherapy | plan.endocrine | plan.radiotherapy).any() and plan.metastatic.all()


def test_metastatic_lines_follow_receptors_and_era():
    hr = np.array([True, False, False, True])
    her2 = np.array([False, True, False, True])
    modern = line_regimens("modern", hr, her2, 6)
    old = line_regimens("1990", hr, her2, 3)
    assert modern[0, 0] == 0 and modern[1, 0] == 2 and modern[2, 0] == 1  # endocrine, anti-HER2, chemo first
    assert (old != 2).all()  # no anti-HER2 line before trastuzumab
    assert (modern[:, 4:] >= -1).all() and old.shape == (4, 3)
