"""What the mechanisms must produce at the level of a cohort (fast engine, fixed seeds).

Each check compares two arms that differ in one mechanism; tolerances are binomial/Poisson
based or stated. Colony founders (all colonies that escape extinction, detected or not) give
far more events than clinical detections, so they carry the statistical power here.
"""

import numpy as np
import pytest
from scipy import stats

from seedsoil.biology.organs import ORGANS, OrganTable
from seedsoil.clinic import Clinic
from seedsoil.engine.fast import FastEngine
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.scenario import scenario_from_dict

SEED = 2026


def colonies(overrides: dict, n: int = 400, seed: int = SEED):
    """All colony founders of patients 0 .. n-1 (block 0): organ, clone, origin arrays (plus
    their CohortHistory)."""
    sc, p = scenario_from_dict(overrides, "<test>")
    eng = FastEngine(sc, p)
    h = eng.simulate_block(0, seed)
    clinic = Clinic(p, OrganTable.from_params(p), sc.cohort.follow_up_years, sc.treatment)
    h = eng.after_surgery(h, clinic.exposure(h, clinic.plan(h, clinic.stage(h))), seed, 0).take(np.arange(n))
    assert len(h) == n
    return h.colonies.organ, h.colonies.clone, h.colonies.origin, h


def share(org, names):
    idx = [ORGANS.index(n) for n in names]
    return np.isin(org, idx).mean()


def subclone(strength: float, n: int = 400):
    over = {"clones": [{"name": "main", "share": 0.99, "traits": {"cxcr4": 0.0}}, {"name": "cxcr4_high", "share": 0.01, "traits": {"cxcr4": 1.0}}],
            "parameters": {"homing.cxcr4_strength": strength, "homing.cxcr4_survival_strength": strength,
                           "colonisation.human_scale": 3.5e-5}}
    _, clone, _, _ = colonies(over, n)
    return clone.mean(), len(clone)


def test_cxcr4_subclone_share_grows_with_homing_and_dominates_when_strong():
    """The homing advantage (CXCR4 x CXCL12 on arrest and on survival in the niche) lets a 1%
    CXCR4-high subclone come to dominate the metastases (seed document 000)."""
    neutral, n0 = subclone(0.0)
    # without homing advantage the subclone keeps roughly its 1% share (binomial 99.9% band)
    assert abs(neutral - 0.01) < 3.3 * np.sqrt(0.01 * 0.99 / n0) + 0.005
    shares = [subclone(s)[0] for s in (2.0, 4.0, 6.0)]
    assert shares[0] < shares[1] < shares[2]
    assert shares[2] > 0.5, f"a 1% CXCR4-high subclone should dominate metastases at strong homing, got {shares[2]:.2f}"


def test_lobular_site_pattern_emerges_from_ecadherin_loss():
    serosal = ["peritoneum", "gi_tract", "ovary"]
    base = {"parameters": {"colonisation.human_scale": 3e-4}}
    ilc = {**base, "cohort": {"ilc_share": {"luminal_a": 1, "luminal_b": 1, "her2": 1, "triple_negative": 1}}}
    idc = {**base, "cohort": {"ilc_share": {"luminal_a": 0, "luminal_b": 0, "her2": 0, "triple_negative": 0}}}
    o_ilc, *_ = colonies(ilc)
    o_idc, *_ = colonies(idc)
    # Borst & Ingold 1993: GI/gynaecological/peritoneal far more frequent in ILC, lung/pleura less
    assert share(o_ilc, serosal) > 5 * share(o_idc, serosal)
    assert share(o_ilc, ["lung"]) < share(o_idc, ["lung"])
    table = [[np.isin(o, [ORGANS.index("lung")]).sum(), len(o)] for o in (o_ilc, o_idc)]
    assert stats.chi2_contingency([[a, b - a] for a, b in table])[1] < 1e-3


def test_her2_tumours_seed_the_brain_more():
    """HER2+ tumours reach the brain far more often than luminal ones (25% vs 10% of relapsed
    patients, J Breast Cancer 2016); triple-negative ones get there by another programme (Bos 2009)."""
    her2 = {"cohort": {"subtype_shares": {"luminal_a": 0, "luminal_b": 0, "her2": 1, "triple_negative": 0}}}
    lum = {"cohort": {"subtype_shares": {"luminal_a": 1, "luminal_b": 0, "her2": 0, "triple_negative": 0}}}
    o_h, *_ = colonies({**her2, "parameters": {"colonisation.human_scale": 1e-2}})
    o_l, *_ = colonies({**lum, "parameters": {"colonisation.human_scale": 1e-2}})
    assert share(o_h, ["brain"]) > 2 * share(o_l, ["brain"])
    tn = {"cohort": {"subtype_shares": {"luminal_a": 0, "luminal_b": 0, "her2": 0, "triple_negative": 1}}}
    no_programme = {"extravasation.bbb_programme_fold": 1.0, "colonisation.human_scale": 1e-2}
    o_t, *_ = colonies({**tn, "parameters": {"colonisation.human_scale": 1e-2}})
    o_t0, *_ = colonies({**tn, "parameters": no_programme})
    assert share(o_t, ["brain"]) > 2 * share(o_t0, ["brain"])


def test_exosome_priming_raises_colonisation_of_the_primed_organ():
    clone = [{"name": "lung_primer", "share": 1.0, "traits": {"integrin_lung": 1.0}}]
    off, *_ = colonies({"clones": clone, "parameters": {"colonisation.niche_fold": 1.0, "colonisation.human_scale": 3e-4}})
    on, *_ = colonies({"clones": clone, "parameters": {"colonisation.niche_fold": 5.0, "colonisation.human_scale": 3e-4}})
    lung = ORGANS.index("lung")
    assert (on == lung).sum() > 1.5 * (off == lung).sum()
    bone = ORGANS.index("bone")
    n_on, n_off = (on == bone).sum(), (off == bone).sum()
    assert abs(n_on - n_off) < 4 * np.sqrt(n_on + n_off)  # unprimed organ unchanged (same streams, Poisson noise)


def test_late_recurrences_come_from_dormancy_and_mostly_er_positive():
    """Colonies founded more than 5 years after surgery come from awakened dormant cells and
    mostly from ER+ patients (slow awakening, long persistence, endocrine suppression only
    delays it). Counted per patient (any such colony), one-sided Fisher exact test at 0.01
    over the whole block: colony counts per patient are too heavy-tailed for means (one ER-
    patient of block 0 has 141 late colonies, more than the other 149 ER- patients of the
    first 600 together)."""
    # the biology of dormancy, without adjuvant therapy (endocrine therapy also kills dormant ER+ cells)
    _, _, origin, h = colonies({"parameters": {"colonisation.human_scale": 3e-4}, "treatment": {"adjuvant": "none"}},
                               n=BLOCK_PATIENTS)
    c = h.colonies
    late = c.founded > h.primary.diagnosis_day[c.row] + 5 * 365.25
    assert (c.origin[late] == 1).all() and late.any()  # after surgery only awakened cells found colonies
    assert origin.mean() > 0  # some colonies come from awakened dormant cells
    has_late = np.bincount(c.row[late], minlength=len(h)) > 0
    er = h.covariates.er
    assert 0 < er.sum() < len(h)
    table = [[(has_late & er).sum(), (~has_late & er).sum()], [(has_late & ~er).sum(), (~has_late & ~er).sum()]]
    assert has_late[er].mean() > has_late[~er].mean(), table
    assert stats.fisher_exact(table, alternative="greater").pvalue < 0.01, table


def test_nodal_deposits_shed_into_blood():
    """Axillary deposits are a second source of blood-borne seeds (Pereira/Brown 2018)."""
    busy = {"colonisation.human_scale": 1e-2, "nodes.deposit_prob": 1e-4}
    off, *_ = colonies({"parameters": {**busy, "dissemination.nodal_blood_fold": 0.0}}, n=200)
    on, *_ = colonies({"parameters": {**busy, "dissemination.nodal_blood_fold": 10.0}}, n=200)
    assert len(on) > len(off) + 4 * np.sqrt(len(on) + len(off))


@pytest.fixture(scope="module")
def default_cohort():
    import seedsoil

    return seedsoil.simulate(patients=3000, seed=SEED, workers=1).patients


@pytest.mark.slow
def test_tmem_case_control_reproduces_robinson_2009(default_cohort):
    """Robinson et al. 2009: OR 1.9 per 10 TMEM units (95% CI 1.1-3.4); medians 105 vs 50."""
    from seedsoil.analysis.case_control import marker_odds_ratio

    r = marker_odds_ratio(default_cohort)
    assert 1.1 <= r["odds_ratio"] <= 3.4, r
    assert abs(r["odds_ratio"] - 1.9) < 0.4, r
    assert r["median_marker_cases"] > 1.5 * r["median_marker_controls"]


@pytest.mark.slow
def test_ctc_detection_at_diagnosis_matches_lucci_2012(default_cohort):
    """Lucci et al. 2012 Lancet Oncol 13:688: 24% of stage I-III patients have >=1 CTC per 7.5 mL
    (n = 302, so a 95% CI of about +-5 points); metastatic patients have far more."""
    m0 = default_cohort["M"] == "M0"
    positive = (default_cohort.loc[m0, "ctc_7_5ml"] >= 1).mean()
    assert abs(positive - 0.24) < 0.06, positive
    m1 = default_cohort.loc[~m0, "ctc_7_5ml"]
    assert (m1 >= 5).mean() > 0.5  # Cristofanilli et al. 2004: about half of metastatic patients have >=5
    assert default_cohort["ctc_7_5ml"].corr(default_cohort["tmem_score"], method="spearman") > 0
