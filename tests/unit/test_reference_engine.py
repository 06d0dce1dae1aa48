"""The per-cell reference engine: funnel conservation, determinism, and its stochastic pieces
(Gillespie birth-death, dormancy clocks, categorical draws, the shedding clock) against the
closed forms the fast engine uses."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest
from scipy import stats

from seedsoil.biology.dormancy import AwakeningSchedule, awakening_before_surgery, pre_surgery_fates
from seedsoil.biology.growth import Gompertz
from seedsoil.engine import FastEngine, ReferenceEngine, get_engine
from seedsoil.engine import reference as ref
from seedsoil.engine.history import FUNNEL_STAGES, CohortHistory
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.scenario import ScenarioError, load_scenario, scenario_from_dict

SEED = 20261121
PATIENTS = 12
Z = 5.0  # binomial tolerance in standard errors: a false failure about once in 3.5 million runs
ALPHA = 1e-6  # for the goodness-of-fit checks of the sampling pieces
BUSY = {  # ``small`` at its defaults sheds about 600 units a patient and rarely founds anything
    "dissemination.human_shedding_scale": 3e-4,
    "colonisation.human_scale": 1.0,
    "colonisation.progress_prob": 0.5,
    "nodes.deposit_prob": 1e-3,
    "tmem.log_sd": 0.1,
}


@pytest.fixture(scope="module")
def busy():
    """``small`` with colonisation and nodal deposits frequent enough that every stage is used."""
    base, _ = load_scenario("small")
    data = base.model_dump(mode="python")
    data["parameters"] = {**data["parameters"], **BUSY}
    return scenario_from_dict(data, "<small, busy>")


@pytest.fixture(scope="module")
def history(busy) -> CohortHistory:
    """Patients 0 .. PATIENTS-1 of block 0, one history of the block's rows."""
    return ReferenceEngine(*busy).simulate_rows(0, SEED, np.arange(PATIENTS))


def row(name: str) -> int:
    return FUNNEL_STAGES.index(name)


def patient(part, i: int):
    """The entries of ``part`` (colonies or deposits) that belong to history row ``i``."""
    return part.take(np.flatnonzero(part.row == i))


def assert_same_history(a: CohortHistory, b: CohortHistory):
    assert np.array_equal(a.patient_id, b.patient_id)
    assert np.array_equal(a.funnel, b.funnel)
    for part in ("colonies", "deposits"):
        x, y = getattr(a, part), getattr(b, part)
        for f in fields(x):
            assert np.array_equal(getattr(x, f.name), getattr(y, f.name)), (part, f.name)


def test_registered():
    assert get_engine("reference") is ReferenceEngine
    assert ReferenceEngine.name == "reference"
    assert ReferenceEngine.capabilities.per_cell and not ReferenceEngine.capabilities.batch
    assert ReferenceEngine.capabilities.max_units_per_patient == ref.MAX_UNITS


def test_funnel_conservation(history, busy):
    """No unit is created or lost between stages, patient by patient."""
    h = history
    _, p = busy
    assert len(h) == PATIENTS and np.array_equal(h.patient_id, np.arange(PATIENTS))
    assert h.funnel.shape[0] == PATIENTS
    for part in (h.colonies, h.deposits):  # canonical order, rows of this history only
        assert ((part.row >= 0) & (part.row < PATIENTS)).all()
        assert (np.diff(part.row) >= 0).all(), "entries are grouped by patient row"
    c_all = h.colonies
    assert np.array_equal(np.lexsort((c_all.clone, c_all.organ, c_all.founded, c_all.row)), np.arange(len(c_all)))
    used = {"colonies": 0, "deposits": 0, "dormant": 0}
    for i in range(PATIENTS):
        f = h.funnel[i]
        c, d = patient(h.colonies, i), patient(h.deposits, i)
        assert f.dtype == np.int64 and (f >= 0).all()
        assert f[row("shed"), 0] == f[row("entered_lymph"), 0] + f[row("entered_blood"), 0]
        assert f[row("entered_blood"), 0] >= f[row("survived_circulation"), 0]
        assert f[row("survived_circulation"), 0] == f[row("arrested"), 1:-1].sum()
        organs = f[:, 1:-1]
        assert (organs[row("arrested")] >= organs[row("extravasated")]).all()
        assert (organs[row("extravasated")] >= organs[row("dormant")] + organs[row("micrometastases")]).all()
        # every lymphatic unit arrests in a node; deposits are those nodes' colonies
        assert f[row("arrested"), -1] == f[row("entered_lymph"), 0]
        assert f[row("colonies"), -1] == len(d) <= f[row("arrested"), -1]
        # colonies come from micrometastases (direct) or dormant cells (after awakening)
        n_org = organs.shape[1]
        assert (organs[row("colonies")] == np.bincount(c.organ, minlength=n_org)).all()
        direct = np.bincount(c.organ[c.origin == 0], minlength=n_org)
        late = np.bincount(c.organ[c.origin == 1], minlength=n_org)
        assert (direct <= organs[row("micrometastases")]).all() and (late <= organs[row("dormant")]).all()
        # the engine fills only the stages it owns ('detected' is the clinic's)
        assert f[row("detected")].sum() == 0
        # founding days: direct colonies and deposits before surgery, awakened ones after arrival
        t_dx = h.primary.diagnosis_day[i]
        assert (c.founded[c.origin == 0] <= t_dx).all() and (d.founded <= t_dx).all()
        assert (c.founded >= 0).all() and np.isfinite(c.founded).all()
        assert (np.diff(c.founded) >= 0).all(), "a patient's colonies are sorted by founding day"
        assert set(np.unique(c.clone)) <= set(range(len(h.clone_names)))
        assert np.allclose(d.rate, h.primary.law.rate[i] * p["nodes.growth_fold"])
        used["colonies"] += len(c)
        used["deposits"] += len(d)
        used["dormant"] += int((c.origin == 1).sum())
    assert used["colonies"] == len(h.colonies) and used["deposits"] == len(h.deposits)
    assert all(v > 0 for v in used.values()), f"the busy scenario must exercise every path: {used}"


def test_axillary_deposits_shed_into_blood():
    """With primary blood entry switched off (TMEM^5 of 1/60), blood units come from deposits only."""
    base, _ = load_scenario("small")
    data = base.model_dump(mode="python")
    data["parameters"] = {**data["parameters"], **BUSY, "tmem.median_score": 1.0}
    h = ReferenceEngine(*scenario_from_dict(data, "<small, axillary>")).simulate_rows(0, SEED, np.arange(30))
    has_deposit = np.bincount(h.deposits.row, minlength=len(h)) > 0
    blood = h.funnel[:, row("entered_blood"), 0]
    assert blood[~has_deposit].sum() == 0 and blood[has_deposit].sum() > 0, (blood, has_deposit)


def test_deterministic(busy):
    """A patient's history depends on the seed and her id only: not on the engine instance, nor
    on which other rows of her block are simulated with her, nor on their order."""
    a, b = ReferenceEngine(*busy), ReferenceEngine(*busy)
    assert_same_history(a.simulate_rows(0, SEED, [0, 3]), b.simulate_rows(0, SEED, [0, 3]))
    both = a.simulate_rows(0, SEED, [0, 1, 2, 3])
    assert_same_history(a.simulate_rows(0, SEED, [3, 0]), both.take([3, 0]))
    assert_same_history(a.simulate_rows(0, SEED, [3]), both.take([3]))
    other = a.simulate_rows(1, SEED, [3])
    assert other.patient_id[0] == BLOCK_PATIENTS + 3
    assert not np.array_equal(other.funnel, both.funnel[[3]])
    assert not np.array_equal(a.simulate_rows(0, SEED, [0]).funnel, a.simulate_rows(0, SEED + 1, [0]).funnel)


def test_covariates_match_fast_engine(busy):
    """Covariates and the primary come first from the block's covariate stream: identical to the
    fast engine's patient by patient, wherever the patient sits in her block."""
    fast = FastEngine(*busy)
    for block, rows in ((0, [0, 1, 2, 3, 4, 511, BLOCK_PATIENTS - 1]), (1, [0, 7])):
        hr, hf = ReferenceEngine(*busy).simulate_rows(block, SEED, rows), fast.simulate_block(block, SEED).take(rows)
        assert np.array_equal(hr.patient_id, block * BLOCK_PATIENTS + np.asarray(rows))
        assert np.array_equal(hr.patient_id, hf.patient_id)
        for f in fields(hr.covariates):
            x, y = getattr(hr.covariates, f.name), getattr(hf.covariates, f.name)
            assert x.shape == (len(rows),) and np.array_equal(x, y), f.name
        pr, pf = hr.primary, hf.primary
        assert np.array_equal(pr.law.rate, pf.law.rate) and pr.law.capacity == pf.law.capacity
        assert pr.law.n0 == pf.law.n0
        assert np.array_equal(pr.diagnosis_day, pf.diagnosis_day)
        assert np.array_equal(pr.diagnosis_cells, pf.diagnosis_cells)
        assert hr.traits.traits == hf.traits.traits and hr.clone_names == hf.clone_names
        assert np.array_equal(hr.traits.shares, hf.traits.shares)
        assert np.array_equal(hr.covariates.trait_key, hf.covariates.trait_key)


@pytest.mark.parametrize(("birth", "death"), [(0.7, 0.2), (1.0, 0.8), (0.5, 0.05)])
def test_gillespie_survival_matches_closed_form(birth, death):
    rng = np.random.default_rng(7)
    n = 20_000
    escaped, sim_days = ref.birth_death_escapes(rng, n, birth, death)
    p = 1.0 - death / birth
    assert abs(escaped.mean() - p) < Z * np.sqrt(p * (1 - p) / n)
    assert (sim_days > 0).all()  # simulated birth-death time (days), not wall time


def test_gillespie_edge_cases():
    rng = np.random.default_rng(1)
    assert not ref.birth_death_escapes(rng, 50, 0.5, 0.5)[0].any()  # critical: certain extinction
    assert ref.birth_death_escapes(rng, 50, 0.5, 0.0)[0].all()  # no death: certain escape
    assert ref.birth_death_escapes(rng, 0, 0.7, 0.2)[0].shape == (0,)


SCHEDULE = AwakeningSchedule([0.0, 1000.0, 2800.0], [2e-4, 5e-5, 2e-4], death=4e-4)


def test_dormancy_clocks_match_schedule():
    """Competing exponential clocks over the piecewise schedule vs its closed-form probability
    and awakening-time law (the fast engine's)."""
    sched = SCHEDULE
    rng = np.random.default_rng(11)
    arrival = rng.uniform(0.0, 1000.0, 200_000)
    awake, when, still = ref.dormancy_clocks(rng, sched, arrival)
    assert not still.any()  # without ``until`` every clock rings: awakened or dead
    p = sched.probability(arrival)
    assert abs(awake.sum() - p.sum()) < Z * np.sqrt((p * (1 - p)).sum())
    assert np.isnan(when[~awake]).all() and (when[awake] > arrival[awake]).all()
    m = np.flatnonzero(awake)
    exact = sched.sample_time(arrival[m], rng.random(m.size), rng.random(m.size))
    assert stats.ks_2samp(when[m], exact).pvalue > ALPHA


def test_dormancy_clocks_split_at_surgery():
    """The reference engine stops the clocks at surgery (``until``) and restarts the cells still
    dormant from surgery on another stream. Before surgery: the fast engine's closed forms
    (pre_surgery_fates, awakening_before_surgery); both halves together: the whole schedule."""
    sched, surgery = SCHEDULE, 1000.0  # constant rates before surgery: the first segment
    wake, death = float(sched.rates[0]), sched.death
    rng = np.random.default_rng(13)
    arrival = rng.uniform(0.0, surgery, 200_000)
    awake, when, still = ref.dormancy_clocks(rng, sched, arrival, until=surgery)
    assert not (awake & still).any()
    assert np.isnan(when[~awake]).all()
    assert ((when[awake] > arrival[awake]) & (when[awake] <= surgery)).all()
    p_pre, p_still = pre_surgery_fates(wake, death, surgery - arrival)
    for got, p in ((awake, p_pre), (still, p_still)):
        assert abs(got.sum() - p.sum()) < Z * np.sqrt((p * (1 - p)).sum())
    m = np.flatnonzero(awake)
    exact = awakening_before_surgery(arrival[m], surgery, wake, death, rng.random(m.size))
    assert stats.ks_2samp(when[m], exact).pvalue > ALPHA
    # the cells still dormant, restarted at surgery (memoryless), complete the schedule's law
    s = np.flatnonzero(still)
    awake2, when2, still2 = ref.dormancy_clocks(rng, sched, np.full(s.size, surgery))
    assert not still2.any() and (when2[awake2] > surgery).all()
    total = awake.copy()
    total[s[awake2]] = True
    day = when.copy()
    day[s[awake2]] = when2[awake2]
    p = sched.probability(arrival)
    assert abs(total.sum() - p.sum()) < Z * np.sqrt((p * (1 - p)).sum())
    k = np.flatnonzero(total)
    exact = sched.sample_time(arrival[k], rng.random(k.size), rng.random(k.size))
    assert stats.ks_2samp(day[k], exact).pvalue > ALPHA


def test_dormancy_clocks_without_awakening():
    sched = AwakeningSchedule([0.0], [0.0], death=0.0)
    awake, when, still = ref.dormancy_clocks(np.random.default_rng(0), sched, np.array([1.0, 2.0]))
    assert not awake.any() and np.isnan(when).all() and still.all()


def test_categorical_draws():
    probs = np.array([[0.5, 0.0, 0.3, 0.2], [0.0, 0.1, 0.0, 0.9]])
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 2, 100_000)
    col = ref.categorical(rng, probs, rows)
    for r in range(2):
        counts = np.bincount(col[rows == r], minlength=4)
        assert (counts[probs[r] == 0] == 0).all()
        nz = probs[r] > 0
        assert stats.chisquare(counts[nz], counts.sum() * probs[r][nz]).pvalue > ALPHA


def test_shedding_clock_integrates_the_growth_law():
    """Steps of at most SHED_STEP_DAYS with the midpoint rule: cell-days agree with the E1 closed form."""
    law = Gompertz.from_doubling_time(120.0, reference_cells=1.77e9, capacity=1e12)
    end = float(law.time_to(6.5e7))
    edges, mid = ref.shedding_steps(law, 0.0, end)
    assert np.diff(edges).max() <= ref.SHED_STEP_DAYS + 1e-12
    cell_days = (law.size(mid) * np.diff(edges)).sum()
    assert cell_days == pytest.approx(float(law.integral(0.0, end)), rel=1e-4)
    rng = np.random.default_rng(5)
    counts = rng.poisson(np.vstack([np.full(len(mid), 0.2), np.full(len(mid), 0.1)]) * np.diff(edges))
    t, lead = ref.materialise_departures(rng, edges, counts)
    assert len(t) == counts.sum() and (np.bincount(lead, minlength=2) == counts.sum(axis=1)).all()
    assert ((t >= 0) & (t <= end)).all()


def test_refuses_patients_beyond_the_cap(busy, monkeypatch):
    monkeypatch.setattr(ref, "MAX_UNITS", 1000)
    with pytest.raises(ValueError, match="fast engine") as err:
        ReferenceEngine(*busy).simulate_rows(0, SEED, range(8))  # some of them (invasion varies)
    assert isinstance(err.value, ref.ReferenceCapacityError)
    assert isinstance(err.value, ScenarioError)  # what the CLI reports as one `error:` line
    # parallel runs send it back from a worker process
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is type(err.value) and str(again) == str(err.value)


@pytest.fixture(scope="module")
def refused_run(tmp_path_factory):
    """Large tumours on the reference engine through the CLI: (completed process, --out folder).
    About 6 cm each and shedding 67x the calibrated rate: every patient of block 0 at seed
    20261121 (the CLI's default) would shed over 13 x MAX_UNITS (at least 6.7e7 units)."""
    tmp = tmp_path_factory.mktemp("refused")
    path = tmp / "large.toml"
    path.write_text('engine = "reference"\n[parameters]\n'
                    '"diagnosis.size_min_mm" = 20\n"diagnosis.size_median_mm" = 60\n"diagnosis.size_log_sd" = 0.05\n'
                    '"dissemination.human_shedding_scale" = 1e-3\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()",
                           "run", str(path), "--patients", "2", "--out", str(tmp / "o")],
                          capture_output=True, text=True, timeout=120)
    return proc, tmp / "o"


def test_cli_refuses_with_one_error_line(refused_run):
    """Exit 2, one `error:` line naming the fast engine."""
    proc, _ = refused_run
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "fast engine" in lines[0], proc.stderr
    assert "reference" in lines[0] and f"{ref.MAX_UNITS:,}" in lines[0], proc.stderr


def test_cli_refusal_leaves_no_run_folder(refused_run):
    proc, out = refused_run
    assert proc.returncode == 2, proc.stderr
    assert not out.exists(), sorted(str(p.relative_to(out)) for p in out.rglob("*"))
