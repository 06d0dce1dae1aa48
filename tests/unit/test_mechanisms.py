"""Direction of effect of every cascade mechanism, on the pure biology functions (no randomness)."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from seedsoil.biology import cascade
from seedsoil.biology.dormancy import AdjuvantAwakening, AwakeningSchedule
from seedsoil.biology.growth import Gompertz, cells_to_diameter, diameter_to_cells
from seedsoil.biology.nodes import deposit_probability, node_arrest_probabilities
from seedsoil.biology.organs import ORGANS, OrganTable
from seedsoil.biology.traits import Traits
from seedsoil.params import default_parameters

P = default_parameters()
ORG = OrganTable.from_params(P)
BASE = Traits(ecad=0.8, cxcr4=0.5, her2=0.0, er=1.0, emt=0.3, mmp=0.4, pthrp=0.5, platelet_binding=0.5,
              brain_metabolism=0.3, nrg_response=0.3, integrin_lung=0.5, integrin_liver=0.3, integrin_brain=0.2)
LEVELS = [0.0, 0.25, 0.5, 0.75, 1.0]
i = ORG.index


def total_shed(t, tmem=60.0):
    s = cascade.shedding(t, tmem, P)
    return float((s.blood * s.cells_per_unit).sum() + (s.lymph * s.cells_per_unit).sum())


def strictly_increasing(xs):
    return all(b > a for a, b in zip(xs, xs[1:]))


@pytest.mark.parametrize("trait", ["mmp", "emt"])
def test_invasion_mmp_and_emt_raise_leaving_rate(trait):
    assert strictly_increasing([total_shed(BASE.with_(**{trait: v})) for v in LEVELS])


def test_ecadherin_makes_clusters_and_ilc_sheds_single_cells_only():
    fr = [cascade.cluster_fraction(BASE.with_(ecad=v), P) for v in LEVELS]
    assert strictly_increasing(fr)
    assert fr[0] == 0.0
    sh = cascade.shedding(BASE.with_(ecad=0.0), 60.0, P)
    assert sh.blood[cascade.CLUSTER] == 0 and sh.lymph[cascade.CLUSTER] == 0


def test_tmem_density_scales_blood_entry_not_lymph():
    a, b = cascade.shedding(BASE, 30.0, P), cascade.shedding(BASE, 120.0, P)
    assert np.all(b.blood > a.blood)
    np.testing.assert_allclose(a.lymph, b.lymph)
    ratio = b.blood.sum() / a.blood.sum()
    assert ratio == pytest.approx(4.0 ** P["tmem.dose_exponent"])


def test_clusters_survive_circulation_better_and_platelets_shield():
    s = [cascade.circulation_survival(BASE.with_(platelet_binding=v), P) for v in LEVELS]
    assert all(x[cascade.CLUSTER] > x[cascade.SINGLE] for x in s)
    assert strictly_increasing([x[cascade.SINGLE] for x in s])
    no_shield = P.with_overrides({"circulation.platelet_shield": 0.0})
    flat = [cascade.circulation_survival(BASE.with_(platelet_binding=v), no_shield)[0] for v in LEVELS]
    assert max(flat) - min(flat) < 1e-12


def test_arrest_rows_sum_to_one_and_clusters_lodge_in_lung():
    for fp in ("lung", "liver", "none"):
        a = cascade.arrest_distribution(BASE, ORG, P, first_pass=fp)
        np.testing.assert_allclose(a.sum(axis=1), 1.0)
        assert np.all(a >= 0)
    a = cascade.arrest_distribution(BASE, ORG, P)
    assert a[cascade.CLUSTER, i("lung")] > a[cascade.SINGLE, i("lung")]
    portal = cascade.arrest_distribution(BASE, ORG, P, first_pass="liver")
    assert portal[0, i("liver")] > a[0, i("liver")]


def test_cxcr4_shifts_arrest_towards_cxcl12_organs():
    arr = [cascade.arrest_distribution(BASE.with_(cxcr4=v), ORG, P, first_pass="none")[0] for v in LEVELS]
    assert strictly_increasing([a[i("bone")] for a in arr])  # CXCL12 highest in marrow
    assert strictly_increasing([-a[i("brain")] for a in arr])  # CXCL12 low in brain
    flat = P.with_overrides({"homing.cxcr4_strength": 0.0})
    a0 = cascade.arrest_distribution(BASE.with_(cxcr4=1.0), ORG, flat, first_pass="none")[0]
    np.testing.assert_allclose(a0, ORG.blood_flow_share / ORG.blood_flow_share.sum())


def test_her2_breaches_blood_brain_barrier_only():
    e = [cascade.extravasation(BASE.with_(her2=v), ORG, P) for v in LEVELS]
    assert strictly_increasing([x[i("brain")] for x in e])
    others = [k for k in range(len(ORGANS)) if k != i("brain")]
    np.testing.assert_allclose(e[0][others], e[-1][others])
    assert e[0][i("brain")] < e[0][i("liver")] and e[0][i("liver")] > e[0][i("lung")]  # barrier hard, sinusoids easy


def test_bbb_crossing_programme_opens_the_brain_only():
    e = [cascade.extravasation(BASE.with_(bbb_crossing=v), ORG, P) for v in LEVELS]
    assert strictly_increasing([x[i("brain")] for x in e])
    others = [k for k in range(len(ORGANS)) if k != i("brain")]
    np.testing.assert_allclose(e[0][others], e[-1][others])


def test_fates_are_probabilities():
    f = cascade.fate_shares(ORG)
    np.testing.assert_allclose(f.sum(axis=1), 1.0)
    assert np.all(f >= 0)


@pytest.mark.parametrize("trait, organ", [("pthrp", "bone"), ("brain_metabolism", "brain"), ("nrg_response", "brain")])
def test_soil_specific_traits_raise_colonisation_only_in_their_organ(trait, organ):
    s = [cascade.soil_factor(BASE.with_(**{trait: v}), ORG, P) for v in LEVELS]
    assert strictly_increasing([x[i(organ)] for x in s])
    others = [k for k in range(len(ORGANS)) if k != i(organ)]
    np.testing.assert_allclose(s[0][others], s[-1][others])


def test_discohesive_cells_colonise_serosal_surfaces():
    s = [cascade.soil_factor(BASE.with_(ecad=v), ORG, P) for v in LEVELS]
    for organ in ("peritoneum", "gi_tract", "ovary"):
        assert strictly_increasing([-x[i(organ)] for x in s])
    for organ in ("liver", "bone", "brain"):
        np.testing.assert_allclose(s[0][i(organ)], s[-1][i(organ)])


def test_ecadherin_loss_costs_lung_outgrowth_in_human_soils_only():
    """Padmanaban 2019: cells without E-cadherin grow out in the lung less (lobular cancer spares the
    lung); the mouse soils the assays were calibrated on are left as they were."""
    human = [cascade.soil_factor(BASE.with_(ecad=v), ORG, P)[i("lung")] for v in LEVELS]
    assert strictly_increasing(human)
    assert human[0] == pytest.approx(human[-1] * P["colonisation.lung_fit_discohesive"])
    mouse = [cascade.soil_factor(BASE.with_(ecad=v), ORG, P, human=False)[i("lung")] for v in LEVELS]
    np.testing.assert_allclose(mouse, mouse[-1])
    neutral = P.with_overrides({"colonisation.lung_fit_discohesive": 1.0})
    flat = [cascade.soil_factor(BASE.with_(ecad=v), ORG, neutral)[i("lung")] for v in LEVELS]
    np.testing.assert_allclose(flat, flat[-1])
    assert P["colonisation.lung_fit_discohesive"] < 1.0


def test_exosome_priming_raises_colonisation_in_primed_organ_only():
    tr = BASE.with_(integrin_lung=1.0, integrin_liver=0.0, integrin_brain=0.0)
    prim = np.array([0.0, 0.5, 1.0])
    s = cascade.soil_factor(tr, ORG, P, prim)
    assert strictly_increasing(list(s[:, i("lung")]))
    np.testing.assert_allclose(s[:, i("liver")], s[0, i("liver")])
    levels = cascade.priming_level(np.array([1e6, 1e9, 1e11]), P)
    assert strictly_increasing(list(levels)) and levels[1] == pytest.approx(0.5)


def test_clusters_carry_more_metastatic_potential_and_probabilities_bounded():
    pp = cascade.progression_prob(BASE, ORG, P)
    assert np.all(pp[cascade.CLUSTER] >= pp[cascade.SINGLE]) and np.all((pp >= 0) & (pp <= 1))
    nodes = deposit_probability(P)
    assert nodes[1] >= nodes[0]


def test_birth_death_survival_is_one_minus_d_over_b():
    assert cascade.birth_death_survival(P) == pytest.approx(1 - P["colony.death_rate_per_day"] / P["colony.birth_rate_per_day"])


def test_er_positive_cells_sleep_longer_and_endocrine_therapy_suppresses_awakening():
    w_neg, _ = cascade.dormancy_rates(BASE.with_(er=0.0), P)
    w_pos, _ = cascade.dormancy_rates(BASE.with_(er=1.0), P)
    assert w_pos < w_neg
    death = np.array([cascade.dormancy_rates(BASE.with_(er=1.0), P)[1]])
    wake = np.array([w_pos])
    window = np.array([5 * 365.25])
    on = AdjuvantAwakening(wake * P["treatment.endocrine_awakening_fold"], wake, death, window,
                           death * P["treatment.endocrine_dormant_death_fold"]).probability()[0]
    off = AdjuvantAwakening(wake, wake, death, np.zeros(1)).probability()[0]
    assert on < off
    # the carry-over: a cell still dormant when therapy stops is as likely to awaken as untreated
    later = AdjuvantAwakening(wake, wake, death, np.zeros(1)).probability()[0]
    assert later == pytest.approx(off)


def test_awakening_probability_limits():
    s = AwakeningSchedule([0.0], [0.0], 0.01)
    assert s.probability(np.array([5.0]))[0] == 0.0
    s = AwakeningSchedule([0.0], [0.02], 0.0)
    assert s.probability(np.array([5.0]))[0] == pytest.approx(1.0)


def test_gompertz_integral_inverse_and_doubling_time():
    g = Gompertz.from_doubling_time(150.0, reference_cells=1e9, capacity=1e12)
    assert g.doubling_time(1e9) == pytest.approx(150.0)
    for n in (10.0, 1e6, 4e9):
        assert float(g.size(g.time_to(n))) == pytest.approx(n, rel=1e-9)
    num, _ = quad(lambda t: float(g.size(t)), 500.0, 2500.0, limit=200)
    assert float(g.integral(500.0, 2500.0)) == pytest.approx(num, rel=1e-7)
    assert math.isinf(float(g.time_to(2e12)))
    d = np.array([0.2, 2.0, 20.0])
    np.testing.assert_allclose(cells_to_diameter(diameter_to_cells(d, 1e6), 1e6), d)


def test_sentinel_nodes_filter_most_lymph():
    pr = node_arrest_probabilities(P)
    s = int(P["nodes.sentinel_count"])
    assert pr.sum() == pytest.approx(1.0) and len(pr) == int(P["nodes.count"])
    assert pr[:s].min() > pr[s:].max()
