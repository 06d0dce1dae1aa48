"""The two engines sample one model (DESIGN.md section 4): the per-cell reference engine and the
event-driven fast engine must give the same distributions of funnel counts, colony founders
(organ, origin, clone, founding day) and axillary deposits (node, clone, founding day).

Design
------
* Same patients, same seed: covariates come first from the same stream, so they match exactly
  patient by patient; everything downstream uses different draws and a different algorithm.
* Because patient i gets the same covariates in both engines, the pair (reference_i, fast_i) is
  exchangeable under agreement. Every test uses that pairing, which keeps the tests valid however
  unequal patients are (colony counts range from 0 to thousands, and axillary deposits make them
  overdispersed: a deposit founded early grows faster than the primary and dominates shedding):
    - per-patient counts: Wilcoxon signed-rank test on the paired counts (scipy.stats.wilcoxon);
    - distributions: the chi-square (contingency) or Kolmogorov-Smirnov (scipy.stats.ks_2samp)
      statistic of the pooled samples, with its p-value from swapping the engine labels of whole
      patients at random (a permutation test; Besag & Clifford 1991 sequential stopping).
  The textbook p-values of chi2_contingency and ks_2samp on pooled samples treat every colony as
  independent, which the axillary case is far from: the fast engine against itself (two random
  streams, same patients) gave textbook KS p-values below 0.001 in 35% of comparisons (down to
  1e-18), while these paired tests stayed calibrated (40 such runs per case: 5% of p-values
  below 0.05, under 1% below 0.01).
* One family of tests over both cases, FAMILY_ALPHA = 0.001 split by Bonferroni.
* Two scenarios derived from the built-in ``small`` scenario, with overrides that make rare
  events frequent enough to give the tests power (at the defaults a ``small`` patient has about
  one micrometastasis and a colony in about 1 of 400 patients):
    - "primary": 20x shedding, soil hostility lifted (colonisation.human_scale 1,
      colonisation.progress_prob 0.5), TMEM spread narrowed (tmem.log_sd 0.1: the TMEM^5 dose
      law otherwise makes a few patients dominate), 30x deposit probability, and no shedding from
      axillary deposits (nodal_blood_fold 0, that route is the second case). Colonies are then
      Poisson given covariates, about 3 per patient.
    - "axillary": the same, but primary blood entry switched off (tmem.median_score 1, so the
      entry factor (1/60)^5 is about 1e-9) and 150x deposit probability with the default nodal
      growth and shedding: every colony is seeded from an axillary deposit.
* Companion tests inject known errors into the fast engine only and require that the same
  comparison rejects: the closed-form 1 - d/b survival 30% low (the reference engine runs its own
  Gillespie simulation, so this is what agreement checks), and dormancy clocks running twice as
  fast with the same awakening probability (only the timing changes).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from seedsoil.biology import cascade
from seedsoil.engine import FastEngine, ReferenceEngine
from seedsoil.engine.history import FUNNEL_STAGES
from seedsoil.scenario import load_scenario, scenario_from_dict

pytestmark = pytest.mark.slow

SEED = 20261121
PATIENTS = 400
FAMILY_ALPHA = 1e-3
PERM_MAX = 100_000  # label-swap permutations at most (enough to reach the Bonferroni level)
PERM_HITS = 20  # stop once this many permutations reach the observed statistic
PERM_CELLS = 4_000_000  # permutations x items evaluated at once (memory)
MIN_CATEGORY = 10  # categories with fewer pooled observations are merged into one
MIN_SAMPLE = 50  # each compared distribution needs at least this many items per engine (power)

SHARED = {
    "dissemination.human_shedding_scale": 3e-4,
    "colonisation.human_scale": 1.0,
    "colonisation.progress_prob": 0.5,
    "tmem.log_sd": 0.1,
}
CASES = {
    "primary": {**SHARED, "nodes.deposit_prob": 2e-4, "dissemination.nodal_blood_fold": 0.0},
    "axillary": {**SHARED, "tmem.median_score": 1.0, "nodes.deposit_prob": 1e-3},
}
COUNTS_ALL = ("entered_lymph", "entered_blood", "survived_circulation")  # whole-body column
COUNTS_ORGANS = ("extravasated", "dormant", "micrometastases")  # summed over organs
COUNT_TESTS = len(COUNTS_ALL) + len(COUNTS_ORGANS) + 3  # + direct colonies, dormant-origin colonies, deposits
CHI2_TESTS, KS_TESTS = 4, 3
TESTS = len(CASES) * (COUNT_TESTS + CHI2_TESTS + KS_TESTS)
ALPHA = FAMILY_ALPHA / TESTS  # per test


def scenario(case: str, **extra):
    base, _ = load_scenario("small")
    data = base.model_dump(mode="python")
    data["parameters"] = {**data["parameters"], **CASES[case], **extra}
    return scenario_from_dict(data, f"<small, {case} agreement case>")


def run(engine_cls, case: str, **extra):
    sc, p = scenario(case, **extra)
    engine = engine_cls(sc, p)
    return [engine.simulate(i, SEED) for i in range(PATIENTS)]


_CACHE: dict = {}


def histories(case: str):
    """(reference, fast) histories of the same patients, computed once per module."""
    if case not in _CACHE:
        _CACHE[case] = (run(ReferenceEngine, case), run(FastEngine, case))
    return _CACHE[case]


# -- statistics ------------------------------------------------------------------------------------

def _swap_pvalue(rng, n_patients: int, stat, observed: float, items: int) -> float:
    """P-value of ``observed`` against statistics recomputed with the engine labels of random
    patients swapped; ``stat(swap)`` takes a boolean (permutations, patients) matrix."""
    batch = max(1, min(2000, PERM_CELLS // max(items, 1)))
    hits = done = 0
    while done < PERM_MAX:
        b = min(batch, PERM_MAX - done)
        ge = stat(rng.random((b, n_patients)) < 0.5) >= observed * (1 - 1e-12)
        if hits + ge.sum() >= PERM_HITS:
            return PERM_HITS / (done + int(np.argmax(np.cumsum(ge) + hits >= PERM_HITS)) + 1)
        hits += int(ge.sum())
        done += b
    return (hits + 1) / (done + 1)


def chi2_swap(rng, ref: np.ndarray, fast: np.ndarray) -> tuple[float, float, float]:
    """Homogeneity of pooled category counts (per-patient count matrices, patients x categories).
    Returns (chi-square statistic, label-swap p-value, textbook chi2_contingency p-value)."""
    total = ref.sum(axis=0) + fast.sum(axis=0)
    sparse = total < MIN_CATEGORY
    merge = lambda m: np.column_stack([m[:, ~sparse], m[:, sparse].sum(axis=1)])  # noqa: E731
    ref, fast = merge(ref), merge(fast)
    keep = (ref.sum(axis=0) + fast.sum(axis=0)) > 0
    ref, fast = ref[:, keep].astype(float), fast[:, keep].astype(float)
    col = ref.sum(axis=0) + fast.sum(axis=0)

    def chi2(a):  # a: pooled reference counts (..., categories)
        b = col - a
        na, nb = a.sum(axis=-1, keepdims=True), b.sum(axis=-1, keepdims=True)
        ea, eb = col * na / (na + nb), col * nb / (na + nb)
        return ((a - ea) ** 2 / ea + (b - eb) ** 2 / eb).sum(axis=-1)

    a0 = ref.sum(axis=0)
    observed = float(chi2(a0))
    textbook = stats.chi2_contingency(np.vstack([a0, col - a0]), correction=False)
    assert observed == pytest.approx(textbook.statistic, rel=1e-9)
    diff = fast - ref
    p = _swap_pvalue(rng, len(ref), lambda s: chi2(a0 + s.astype(float) @ diff), observed, len(ref))
    return observed, p, float(textbook.pvalue)


def ks_swap(rng, ref: list[np.ndarray], fast: list[np.ndarray]) -> tuple[float, float, float]:
    """Two-sample KS of pooled values (per-patient lists). Returns (D, label-swap p-value, textbook p)."""
    values = np.concatenate(ref + fast)
    patient = np.concatenate([np.full(len(x), i) for i, x in enumerate(ref)] +
                             [np.full(len(x), i) for i, x in enumerate(fast)])
    is_fast = np.r_[np.zeros(sum(map(len, ref)), bool), np.ones(sum(map(len, fast)), bool)]
    order = np.argsort(values, kind="stable")
    values, patient, is_fast = values[order], patient[order], is_fast[order]
    last = np.r_[values[1:] != values[:-1], True]  # compare the CDFs after each run of ties

    def ks(lab):  # lab: (..., items) True = fast
        lab = np.atleast_2d(lab)
        n_f = lab.sum(axis=1, keepdims=True)
        n_r = lab.shape[1] - n_f
        gap = np.cumsum(~lab, axis=1) / n_r - np.cumsum(lab, axis=1) / n_f
        return np.abs(gap[:, last]).max(axis=1)

    observed = float(ks(is_fast)[0])
    textbook = stats.ks_2samp(np.concatenate(ref), np.concatenate(fast))
    assert observed == pytest.approx(textbook.statistic, abs=1e-12)
    p = _swap_pvalue(rng, len(ref), lambda s: ks(is_fast[None, :] ^ s[:, patient]), observed, len(values))
    return observed, p, float(textbook.pvalue)


def paired_counts(ref: np.ndarray, fast: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank test of per-patient counts (same patients in both engines)."""
    if np.array_equal(ref, fast):
        return 0.0, 1.0
    w = stats.wilcoxon(ref, fast, zero_method="wilcox", method="approx")
    return float(w.statistic), float(w.pvalue)


def _funnel(hs, name: str, organs: bool) -> np.ndarray:
    f = np.array([h.funnel[FUNNEL_STAGES.index(name)] for h in hs])
    return f[:, 1:-1] if organs else f[:, 0]


def compare(ref, fast, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Every test of the family: name -> (statistic, p-value)."""
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[float, float]] = {}
    for name in COUNTS_ALL:
        out[f"count {name}"] = paired_counts(_funnel(ref, name, False), _funnel(fast, name, False))
    for name in COUNTS_ORGANS:
        out[f"count {name}"] = paired_counts(_funnel(ref, name, True).sum(1), _funnel(fast, name, True).sum(1))
    for origin, label in ((0, "direct"), (1, "dormant-origin")):
        n = lambda hs: np.array([(h.colonies.origin == origin).sum() for h in hs])  # noqa: E731
        out[f"count {label} colonies"] = paired_counts(n(ref), n(fast))
    out["count deposits"] = paired_counts(np.array([len(h.deposits) for h in ref]),
                                          np.array([len(h.deposits) for h in fast]))
    assert len(out) == COUNT_TESTS

    n_org, n_clone = ref[0].funnel.shape[1] - 2, len(ref[0].clone_names)

    def colony_table(hs):  # organ x origin x clone
        m = np.zeros((len(hs), n_org * 2 * n_clone), dtype=np.int64)
        for i, h in enumerate(hs):
            c = h.colonies
            m[i] = np.bincount((c.organ * 2 + c.origin) * n_clone + c.clone, minlength=m.shape[1])
        return m

    def deposit_table(hs):  # node (first sentinel, second sentinel, others) x clone
        m = np.zeros((len(hs), 3 * n_clone), dtype=np.int64)
        for i, h in enumerate(hs):
            d = h.deposits
            m[i] = np.bincount(np.minimum(d.node, 2) * n_clone + d.clone, minlength=m.shape[1])
        return m

    fates = lambda hs: np.hstack([_funnel(hs, "dormant", True), _funnel(hs, "micrometastases", True)])  # noqa: E731
    tables = {"arrest organ": lambda hs: _funnel(hs, "arrested", True), "fate by organ": fates,
              "colony organ x origin x clone": colony_table, "deposit node x clone": deposit_table}
    for name, table in tables.items():
        stat, p, _ = chi2_swap(rng, table(ref), table(fast))
        out[f"chi2 {name}"] = (stat, p)
    rel = lambda hs, origin: [h.colonies.founded[h.colonies.origin == origin] - h.primary.diagnosis_day  # noqa: E731
                              for h in hs]
    samples = {"direct colony founding day": lambda hs: rel(hs, 0),
               "dormant-origin colony founding day": lambda hs: rel(hs, 1),
               "deposit founding day": lambda hs: [h.deposits.founded - h.primary.diagnosis_day for h in hs]}
    for name, sample in samples.items():
        a, b = sample(ref), sample(fast)
        assert min(sum(map(len, a)), sum(map(len, b))) >= MIN_SAMPLE, f"too few for {name}: no power"
        stat, p, _ = ks_swap(rng, a, b)
        out[f"ks {name}"] = (stat, p)
    assert len(out) == COUNT_TESTS + CHI2_TESTS + KS_TESTS
    return out


def report(title: str, results: dict[str, tuple[float, float]]) -> str:
    lines = [f"{title} (per-test alpha {ALPHA:.2g})"]
    lines += [f"  {k:42s} stat {s:12.5g}  p {p:.3g}{'  REJECT' if p < ALPHA else ''}" for k, (s, p) in results.items()]
    return "\n".join(lines)


# -- tests ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_covariates_match_patient_by_patient(case):
    ref, fast = histories(case)
    for r, f in zip(ref, fast):
        assert r.covariates == f.covariates and r.primary == f.primary
        assert r.traits == f.traits and r.plan == f.plan and r.clone_names == f.clone_names


@pytest.mark.parametrize("case", sorted(CASES))
def test_engines_agree(case):
    ref, fast = histories(case)
    results = compare(ref, fast)
    text = report(f"reference vs fast, {case} case, {PATIENTS} patients", results)
    print(text)
    assert all(p >= ALPHA for _, p in results.values()), text


def test_comparison_rejects_wrong_birth_death_survival(monkeypatch):
    """The fast engine's closed form 1 - d/b made 30% low: the reference engine's Gillespie
    colonies outnumber it, and the paired colony counts must reject."""
    ref = histories("primary")[0]  # before patching: the cache must hold the true fast engine
    true = cascade.birth_death_survival
    monkeypatch.setattr(cascade, "birth_death_survival", lambda p: 0.7 * true(p))
    biased = run(FastEngine, "primary")
    results = compare(ref, biased)
    text = report("reference vs fast with 0.7 x (1 - d/b)", results)
    print(text)
    assert results["count direct colonies"][1] < ALPHA, text
    assert results["count dormant-origin colonies"][1] < ALPHA, text


def test_comparison_rejects_wrong_dormancy_timing():
    """Dormancy clocks twice as fast in the fast engine (awakening and death rates doubled, so
    about the same awakening probability): the awakening times must differ."""
    _, p = scenario("primary")
    fast = {k: 2 * p[k] for k in ("dormancy.awakening_rate_per_year", "dormancy.death_rate_per_year")}
    results = compare(histories("primary")[0], run(FastEngine, "primary", **fast))
    text = report("reference vs fast with dormancy clocks x 2", results)
    print(text)
    assert results["ks dormant-origin colony founding day"][1] < ALPHA, text
