"""The per-cell reference engine: funnel conservation, determinism, and its stochastic pieces
(Gillespie birth-death, dormancy clocks, categorical draws, the shedding clock) against the
closed forms the fast engine uses."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from seedsoil.biology.dormancy import AwakeningSchedule
from seedsoil.biology.growth import Gompertz
from seedsoil.engine import FastEngine, ReferenceEngine, get_engine
from seedsoil.engine import reference as ref
from seedsoil.engine.history import FUNNEL_STAGES
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
def histories(busy):
    engine = ReferenceEngine(*busy)
    return [engine.simulate(i, SEED) for i in range(PATIENTS)]


def row(name: str) -> int:
    return FUNNEL_STAGES.index(name)


def test_registered():
    assert get_engine("reference") is ReferenceEngine
    assert ReferenceEngine.name == "reference"


def test_funnel_conservation(histories):
    """No unit is created or lost between stages, patient by patient."""
    used = {"colonies": 0, "deposits": 0, "dormant": 0}
    for h in histories:
        f = h.funnel
        assert f.dtype == np.int64 and (f >= 0).all()
        assert f[row("shed"), 0] == f[row("entered_lymph"), 0] + f[row("entered_blood"), 0]
        assert f[row("entered_blood"), 0] >= f[row("survived_circulation"), 0]
        assert f[row("survived_circulation"), 0] == f[row("arrested"), 1:-1].sum()
        organs = f[:, 1:-1]
        assert (organs[row("arrested")] >= organs[row("extravasated")]).all()
        assert (organs[row("extravasated")] >= organs[row("dormant")] + organs[row("micrometastases")]).all()
        # every lymphatic unit arrests in a node; deposits are those nodes' colonies
        assert f[row("arrested"), -1] == f[row("entered_lymph"), 0]
        assert f[row("colonies"), -1] == len(h.deposits) <= f[row("arrested"), -1]
        # colonies come from micrometastases (direct) or dormant cells (after awakening)
        c = h.colonies
        n_org = organs.shape[1]
        assert (organs[row("colonies")] == np.bincount(c.organ, minlength=n_org)).all()
        direct = np.bincount(c.organ[c.origin == 0], minlength=n_org)
        late = np.bincount(c.organ[c.origin == 1], minlength=n_org)
        assert (direct <= organs[row("micrometastases")]).all() and (late <= organs[row("dormant")]).all()
        # the engine fills only the stages it owns ('detected' is the clinic's)
        assert f[row("detected")].sum() == 0
        # founding days: direct colonies and deposits before surgery, awakened ones after arrival
        t_dx = h.primary.diagnosis_day
        assert (c.founded[c.origin == 0] <= t_dx).all() and (h.deposits.founded <= t_dx).all()
        assert (c.founded >= 0).all() and np.isfinite(c.founded).all()
        assert (np.diff(c.founded) >= 0).all(), "colonies are sorted by founding day"
        assert set(np.unique(c.clone)) <= set(range(len(h.clone_names)))
        assert np.allclose(h.deposits.rate, h.primary.law.rate * 3.5)
        used["colonies"] += len(c)
        used["deposits"] += len(h.deposits)
        used["dormant"] += int((c.origin == 1).sum())
    assert all(v > 0 for v in used.values()), f"the busy scenario must exercise every path: {used}"


def test_axillary_deposits_shed_into_blood():
    """With primary blood entry switched off (TMEM^5 of 1/60), blood units come from deposits only."""
    base, _ = load_scenario("small")
    data = base.model_dump(mode="python")
    data["parameters"] = {**data["parameters"], **BUSY, "tmem.median_score": 1.0}
    engine = ReferenceEngine(*scenario_from_dict(data, "<small, axillary>"))
    blood = {True: 0, False: 0}
    for pid in range(30):
        h = engine.simulate(pid, SEED)
        blood[len(h.deposits) > 0] += int(h.funnel[row("entered_blood"), 0])
    assert blood[False] == 0 and blood[True] > 0, blood


def test_deterministic(busy):
    a, b = ReferenceEngine(*busy), ReferenceEngine(*busy)
    for pid in (0, 3):
        h1, h2 = a.simulate(pid, SEED), b.simulate(pid, SEED)
        assert np.array_equal(h1.funnel, h2.funnel)
        for part in ("colonies", "deposits"):
            x, y = getattr(h1, part), getattr(h2, part)
            for name in x.__dataclass_fields__:
                assert np.array_equal(getattr(x, name), getattr(y, name)), (part, name)
    assert not np.array_equal(a.simulate(0, SEED).funnel, a.simulate(0, SEED + 1).funnel)


def test_covariates_match_fast_engine(busy):
    """Covariates and the primary come first from the same stream: identical to the fast engine's."""
    r, f = ReferenceEngine(*busy), FastEngine(*busy)
    for pid in range(5):
        hr, hf = r.simulate(pid, SEED), f.simulate(pid, SEED)
        assert hr.covariates == hf.covariates
        assert hr.primary == hf.primary
        assert hr.plan == hf.plan and hr.traits == hf.traits


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


def test_dormancy_clocks_match_schedule():
    """Competing exponential clocks over the piecewise schedule vs its closed-form probability
    and awakening-time law (the fast engine's)."""
    sched = AwakeningSchedule([0.0, 1000.0, 2800.0], [2e-4, 5e-5, 2e-4], death=4e-4)
    rng = np.random.default_rng(11)
    arrival = rng.uniform(0.0, 1000.0, 200_000)
    awake, when = ref.dormancy_clocks(rng, sched, arrival)
    p = sched.probability(arrival)
    assert abs(awake.sum() - p.sum()) < Z * np.sqrt((p * (1 - p)).sum())
    assert np.isnan(when[~awake]).all() and (when[awake] > arrival[awake]).all()
    m = np.flatnonzero(awake)
    exact = sched.sample_time(arrival[m], rng.random(m.size), rng.random(m.size))
    assert stats.ks_2samp(when[m], exact).pvalue > ALPHA


def test_dormancy_clocks_without_awakening():
    sched = AwakeningSchedule([0.0], [0.0], death=0.0)
    awake, when = ref.dormancy_clocks(np.random.default_rng(0), sched, np.array([1.0, 2.0]))
    assert not awake.any() and np.isnan(when).all()


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
        ReferenceEngine(*busy).simulate(0, SEED)
    assert isinstance(err.value, ScenarioError)  # what the CLI reports as one `error:` line
    # parallel runs send it back from a worker process
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is type(err.value) and str(again) == str(err.value)


def test_cli_refuses_with_one_error_line(tmp_path):
    """Large tumours on the reference engine: exit 2, one `error:` line naming the fast engine."""
    path = tmp_path / "large.toml"
    path.write_text('engine = "reference"\n[parameters]\n'
                    '"diagnosis.size_min_mm" = 20\n"diagnosis.size_median_mm" = 60\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()",
                           "run", str(path), "--patients", "2", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "fast engine" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()
