"""The per-cell reference engine: every disseminated unit, followed stage by stage (DESIGN.md section 4).

The executable specification and the teaching mode ("follow one cell"). Same model as
:class:`~seedsoil.engine.fast.FastEngine` (same biology functions, same covariates from the same
patient stream), deliberately a different sampling algorithm, so that comparing the two engines
checks the fast engine's thinning, time inversion and closed forms:

* **Shedding.** Each tumour mass (the primary, then its axillary deposits) releases units as an
  inhomogeneous Poisson process sampled directly in time: the mass's life is cut into short steps
  (at most :data:`SHED_STEP_DAYS`, and short enough that the mass grows by at most
  :data:`SHED_STEP_LOG_GROWTH` in log-size per step); a step of length ``dt`` around ``t`` releases
  Poisson(rate x N(t) x dt) units of each clone, class (single, cluster) and route (blood, lymph),
  at uniform times within it. Every unit is then materialised with its own departure day.
* **Blood units**, each with its own draws: survives circulation (Bernoulli), arrests in an organ
  (categorical), extravasates (Bernoulli), takes a fate (dormant / micrometastasis / death).
  A micrometastasis progresses with the progression probability at its own arrival day (priming
  from the primary's size that day) and must then escape early extinction in an explicit
  Gillespie birth-death simulation (:func:`birth_death_escapes`); it founds a colony on its
  arrival day (the birth-death phase takes days to weeks and is not added, the fast engine's
  convention too). A dormant cell runs competing exponential clocks (awakening, death) through the
  untreated awakening schedule until surgery on the patient's seeding stream; an awakened cell
  progresses (with the progression probability of its *arrival* day, as in the fast engine) and
  escapes extinction (birth-death again); its colony is founded on the awakening day. A cell still
  dormant at surgery joins the history's dormant pool as a group of one, with its own success
  probability (progression at its arrival day x the birth-death escape probability); after surgery
  both engines run the same sampler on the pool (:mod:`seedsoil.engine.adjuvant`), this one on each
  patient's own adjuvant stream, so that therapy after surgery changes no draw before it.
* **Lymph units** arrest in a node (categorical) and found a deposit with the deposit probability
  of their class, on their arrival day. Deposits grow by Gompertz(primary rate x
  ``nodes.growth_fold``, ``nodes.capacity_cells``) and shed units into blood until surgery
  (``tmem.reference_score`` x ``dissemination.nodal_blood_fold``), materialised the same way.

Covariates come from the block's covariate stream (:func:`~seedsoil.engine.start.start_block`), so
patient i is the same patient in both engines; only the requested rows of a block are simulated.
Transit is instantaneous (arrival day = departure day) in both engines. Cost grows with the number
of units shed, so a patient needing more than :data:`MAX_UNITS` is refused with a message that
points to the fast engine.
"""

from __future__ import annotations

import math

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.dormancy import AwakeningSchedule
from seedsoil.biology.growth import Gompertz
from seedsoil.biology.nodes import deposit_probability, node_arrest_probabilities
from seedsoil.engine.adjuvant import AdjuvantExposure
from seedsoil.engine.contract import Capabilities, Engine, with_new_colonies
from seedsoil.engine.covariates import TraitTable
from seedsoil.engine.history import (ALL, DIRECT, DORMANT, NODES, CohortHistory, Colonies, DormantPool,
                                     NodalDeposits, empty_funnel, stage)
from seedsoil.engine.start import CohortStart, finish_block, start_block
from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, patient_rng
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, ScenarioError

BLOOD, LYMPH = 0, 1  # shedding routes

SHED_STEP_DAYS = 0.5
"""Longest step of the shedding clock (days)."""
SHED_STEP_LOG_GROWTH = 0.01
"""Largest growth of the shedding mass within one step (log-size): the intensity is held at its
midpoint value, so the relative error of a step's expected count is about (this)^2 / 24."""
MAX_UNITS = 5_000_000
"""Most units one patient may shed on this engine (memory and time); beyond it use the fast engine."""
EXTINCTION_NEGLIGIBLE = 1e-9
"""A birth-death colony is followed until extinction or until its size n makes later extinction,
(d/b)^n, smaller than this."""
DEPOSIT_CHUNK = 256
"""Deposits summed at once when tabulating the axillary shedding mass (bounds memory)."""


class ReferenceCapacityError(ScenarioError):
    """A patient would shed more units than the reference engine materialises.

    A :class:`ValueError` (through :class:`~seedsoil.scenario.ScenarioError`, so the CLI reports it
    as one ``error:`` line): the scenario is unsuitable for this engine, not broken."""


# -- the pieces, each drawing per unit -----------------------------------------------------------

def shedding_steps(law: Gompertz, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Step edges (days) from ``start`` to ``end`` for a mass growing by ``law``: at most
    :data:`SHED_STEP_DAYS` long and short enough for :data:`SHED_STEP_LOG_GROWTH` at the law's
    fastest (initial) log-growth rate. Returns (edges, midpoints)."""
    fastest = law.rate * math.log(law.capacity / law.n0)  # Gompertz log-growth decelerates
    dt = min(SHED_STEP_DAYS, SHED_STEP_LOG_GROWTH / fastest)
    steps = max(1, math.ceil((end - start) / dt))
    edges = np.linspace(start, end, steps + 1)
    return edges, 0.5 * (edges[:-1] + edges[1:])


def materialise_departures(rng: np.random.Generator, edges: np.ndarray,
                           counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every unit of ``counts`` (leading index, step) with its own uniform time within its step."""
    counts = np.atleast_2d(counts)
    lead, step = np.nonzero(counts)
    k = counts[lead, step]
    step = np.repeat(step, k)
    t = edges[step] + (edges[step + 1] - edges[step]) * rng.random(len(step))
    return t, np.repeat(lead, k)


def categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per unit: unit i picks a column of ``probs[rows[i]]`` by inverting its
    own uniform (one ``searchsorted`` over all rows, each row's CDF shifted by twice its index)."""
    n_rows, k = probs.shape
    cum = np.cumsum(probs, axis=1)
    cum = cum / cum[:, -1:]  # rows sum to 1 up to rounding
    shift = 2.0 * np.arange(n_rows)
    flat = (cum + shift[:, None]).ravel()
    u = rng.random(len(rows))
    col = np.searchsorted(flat, u + shift[rows], side="right") - k * np.asarray(rows)
    return np.clip(col, 0, k - 1)


def birth_death_escapes(rng: np.random.Generator, n: int, birth: float, death: float) -> tuple[np.ndarray, np.ndarray]:
    """Follow ``n`` one-cell colonies (linear birth-death, rates per cell per day) by Gillespie's
    algorithm until extinction or until a size ``m`` with (d/b)^m < :data:`EXTINCTION_NEGLIGIBLE`.

    Returns (escaped, elapsed days). The escape probability is (1 - d/b) / (1 - (d/b)^m), i.e.
    1 - d/b to within the stated tolerance. A process with ``death >= birth`` dies out with
    certainty and is not simulated."""
    escaped, elapsed = np.zeros(n, dtype=bool), np.zeros(n)
    if n == 0 or death >= birth:
        return escaped, elapsed
    if death <= 0:
        return ~escaped, elapsed
    safe = max(1, math.ceil(math.log(EXTINCTION_NEGLIGIBLE) / math.log(death / birth)))
    size = np.ones(n, dtype=np.int64)
    active = np.arange(n)
    p_birth = birth / (birth + death)
    while active.size:
        s = size[active]
        elapsed[active] += rng.exponential(size=active.size) / (s * (birth + death))
        s = s + np.where(rng.random(active.size) < p_birth, 1, -1)
        size[active] = s
        active = active[(s > 0) & (s < safe)]
    return size >= safe, elapsed


def dormancy_clocks(rng: np.random.Generator, sched: AwakeningSchedule, arrival: np.ndarray,
                    until: float = np.inf, wake_fold: np.ndarray | None = None,
                    death_fold: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each dormant cell runs two exponential clocks, awakening (the schedule's rate of the current
    segment, times the cell's ``wake_fold``: its soil) and death (times ``death_fold``), restarted
    at every segment boundary and at ``until`` (memorylessness); the first to ring decides. Returns
    (awakened, awakening day or NaN, still dormant at ``until``)."""
    n = len(arrival)
    wake_fold = np.ones(n) if wake_fold is None else np.asarray(wake_fold, dtype=float)
    death_fold = np.ones(n) if death_fold is None else np.asarray(death_fold, dtype=float)
    ends = np.minimum(np.append(sched.starts[1:], np.inf), until)
    pending = np.ones(n, dtype=bool)
    awake = np.zeros(n, dtype=bool)
    when = np.full(n, np.nan)
    for start, end, wake in zip(sched.starts, ends, sched.rates):
        if start >= until:
            break
        idx = np.flatnonzero(pending & (arrival < end))
        if idx.size == 0:
            continue
        a = np.maximum(start, arrival[idx])
        with np.errstate(divide="ignore"):
            t_wake = a + rng.exponential(size=idx.size) / (wake * wake_fold[idx])
            t_die = a + rng.exponential(size=idx.size) / (sched.death * death_fold[idx])
        first = np.minimum(t_wake, t_die)
        rang = first < end
        woke = rang & (t_wake < t_die)
        awake[idx[woke]] = True
        when[idx[woke]] = t_wake[woke]
        pending[idx[rang]] = False
    return awake, when, pending


# -- the engine ------------------------------------------------------------------------------------

class ReferenceEngine(Engine):
    """Samples patients' histories by materialising every unit their tumours shed, one patient
    at a time from her own per-patient streams (seeding until surgery; adjuvant afterwards)."""

    name = "reference"
    description = "every disseminated unit followed stage by stage, one patient at a time (the executable specification)"
    capabilities = Capabilities(per_cell=True, batch=False, max_units_per_patient=MAX_UNITS)

    def __init__(self, scenario: Scenario, params: ParameterSet):
        super().__init__(scenario, params)
        self.fates = cascade.fate_shares(self.organs)  # (O, 3): dormant, micrometastasis, death
        self.node_probs = node_arrest_probabilities(params)
        self.deposit = deposit_probability(params)
        self.birth, self.death = params["colony.birth_rate_per_day"], params["colony.death_rate_per_day"]
        self.table = TraitTable(scenario, params)

    def simulate_block(self, block: int, seed: int) -> CohortHistory:
        return self.simulate_rows(block, seed, np.arange(BLOCK_PATIENTS))

    def simulate_rows(self, block: int, seed: int, rows) -> CohortHistory:
        start = start_block(self.scenario, self.p, seed, block, self.table).take(np.asarray(rows, dtype=np.int64))
        return self.simulate_start(start, seed, block)

    def simulate_start(self, start: CohortStart, seed: int, block: int) -> CohortHistory:
        funnel = empty_funnel(len(start))
        colonies, deposits, pools = [], [], []
        for i in range(len(start)):
            cols, deps, pool = self._patient(start, i, seed, funnel[i])
            colonies.append(cols)
            deposits.append(deps)
            pools.append(pool)
        return finish_block(start, Colonies.concat(colonies), NodalDeposits.concat(deposits),
                            DormantPool.concat(pools), funnel)

    def after_surgery(self, h: CohortHistory, exposure: AdjuvantExposure, seed: int, block: int) -> CohortHistory:
        """As :meth:`Engine.after_surgery`, patient by patient from each one's own adjuvant stream."""
        pool = h.dormant
        parts = [self._awaken(pool.take(np.flatnonzero(pool.row == i)), h, exposure,
                              patient_rng(seed, int(h.patient_id[i]), Phase.ADJUVANT)) for i in range(len(h))]
        return with_new_colonies(h, Colonies.concat(parts))

    def _patient(self, start: CohortStart, i: int, seed: int, funnel: np.ndarray):
        p = self.p
        pid = int(start.patient_id[i])
        rng = patient_rng(seed, pid, Phase.SEEDING)
        tmem = float(start.covariates.tmem_score[i])
        lvi = float(start.covariates.invasion[i])
        law = Gompertz(rate=float(start.primary.law.rate[i]), capacity=float(start.primary.law.capacity))
        t_dx = float(start.primary.diagnosis_day[i])
        traits = start.traits.traits[int(start.covariates.trait_key[i])]
        shares = start.traits.shares
        scheds = [AwakeningSchedule([0.0], [wake], death)
                  for wake, death in (cascade.dormancy_rates(tr, p) for tr in traits)]
        pools: list[DormantPool] = []
        # 1. the primary, first cell to surgery: step counts for every clone, route and class
        edges, mid = shedding_steps(law, 0.0, t_dx)
        size = law.size(mid)
        counts = []
        for tr, share in zip(traits, shares):
            sh = cascade.shedding(tr, tmem, p)
            rates = np.stack([sh.blood, sh.lymph]) * share * lvi  # (route, class) units per cell-day
            counts.append(rng.poisson(rates[:, :, None] * (size * np.diff(edges))[None, None, :]))
        units = self._charge(0, sum(int(c.sum()) for c in counts), pid)
        colonies: list[Colonies] = []
        dep_node, dep_clone, dep_t = [], [], []
        for c, tr in enumerate(traits):
            t, cls = materialise_departures(rng, edges, counts[c][BLOOD])
            colonies += self._blood_route(rng, t, cls, tr, c, law, t_dx, scheds[c], funnel, i, pools)
            t, cls = materialise_departures(rng, edges, counts[c][LYMPH])
            funnel[stage("entered_lymph"), ALL] += len(t)
            funnel[stage("arrested"), NODES] += len(t)
            node = rng.choice(len(self.node_probs), size=len(t), p=self.node_probs)
            dep = rng.random(len(t)) < self.deposit[cls]
            dep_node.append(node[dep])
            dep_clone.append(np.full(int(dep.sum()), c, dtype=np.int64))
            dep_t.append(t[dep])
        node, clone, founded = np.concatenate(dep_node), np.concatenate(dep_clone), np.concatenate(dep_t)
        deposits = NodalDeposits(row=np.full(len(node), i, dtype=np.int64), node=node, clone=clone, founded=founded,
                                 rate=np.full(len(node), law.rate * p["nodes.growth_fold"]), luck=rng.random(len(node)))
        # 2. axillary deposits shed into blood until surgery (post-surgical residual nodes do not)
        if len(deposits):
            dlaw = Gompertz(rate=float(deposits.rate[0]), capacity=p["nodes.capacity_cells"])
            for c, tr in enumerate(traits):
                mine = (deposits.clone == c) & (deposits.founded < t_dx)
                if not mine.any():
                    continue
                f = deposits.founded[mine]
                edges, mid = shedding_steps(dlaw, float(f.min()), t_dx)
                mass = np.zeros(len(mid))
                for lo in range(0, len(f), DEPOSIT_CHUNK):
                    age = mid[None, :] - f[lo:lo + DEPOSIT_CHUNK, None]
                    mass += np.where(age > 0, dlaw.size(age), 0.0).sum(axis=0)
                sh = cascade.shedding(tr, p["tmem.reference_score"], p)
                rates = sh.blood * p["dissemination.nodal_blood_fold"] * lvi
                n = rng.poisson(rates[:, None] * (mass * np.diff(edges))[None, :])
                units = self._charge(units, int(n.sum()), pid)
                t, cls = materialise_departures(rng, edges, n)
                colonies += self._blood_route(rng, t, cls, tr, c, law, t_dx, scheds[c], funnel, i, pools)
        return Colonies.concat(colonies), deposits, DormantPool.concat(pools)

    def _charge(self, used: int, more: int, patient_id: int) -> int:
        """Units materialised so far plus ``more``; refuses the patient beyond :data:`MAX_UNITS`."""
        used += more
        if used > MAX_UNITS:
            raise ReferenceCapacityError(
                f"scenario {self.scenario.name!r}", "engine", "reference",
                f"patient {patient_id} sheds more than {MAX_UNITS:,} disseminated units, the most the per-cell "
                "reference engine follows one by one; use the fast engine (engine = \"fast\" in the scenario, "
                "or --engine fast), which samples the same model exactly")
        return used

    def _blood_route(self, rng, t: np.ndarray, cls: np.ndarray, tr, clone: int, law: Gompertz, t_dx: float,
                     sched: AwakeningSchedule, funnel: np.ndarray, row: int, pools: list[DormantPool]) -> list[Colonies]:
        """Follow blood units (departure days ``t``, classes ``cls``) one by one: circulation,
        arrest, extravasation, fate; return the colonies founded directly and after awakening
        before surgery, and append the cells still dormant at surgery to ``pools`` (one each)."""
        p, organs = self.p, self.organs
        n_org = len(organs.names)
        funnel[stage("entered_blood"), ALL] += len(t)
        alive = rng.random(len(t)) < cascade.circulation_survival(tr, p)[cls]
        t, cls = t[alive], cls[alive]
        funnel[stage("survived_circulation"), ALL] += len(t)
        organ = categorical(rng, cascade.arrest_distribution(tr, organs, p), cls)
        funnel[stage("arrested"), 1:NODES] += np.bincount(organ, minlength=n_org)
        out = rng.random(len(t)) < cascade.extravasation(tr, organs, p)[organ]
        t, cls, organ = t[out], cls[out], organ[out]
        funnel[stage("extravasated"), 1:NODES] += np.bincount(organ, minlength=n_org)
        fate = categorical(rng, self.fates, organ)
        funnel[stage("dormant"), 1:NODES] += np.bincount(organ[fate == 0], minlength=n_org)
        funnel[stage("micrometastases"), 1:NODES] += np.bincount(organ[fate == 1], minlength=n_org)
        args = (tr, clone, law, row)
        # micrometastases: progress (priming on arrival), then escape extinction; founded on arrival
        m = fate == 1
        direct = self._colonies(rng, t[m], cls[m], organ[m], t[m], *args, DIRECT)
        # dormant cells: awaken or die before surgery, or wait in the pool for what follows it
        d = fate == 0
        ta, ca, oa = t[d], cls[d], organ[d]
        awake, when, still = dormancy_clocks(rng, sched, ta, until=t_dx, wake_fold=organs.awakening_fold[oa],
                                             death_fold=organs.dormant_death_fold[oa])
        early = self._colonies(rng, ta[awake], ca[awake], oa[awake], when[awake], *args, DORMANT)
        ta, ca, oa = ta[still], ca[still], oa[still]
        if len(ta):
            priming = cascade.priming_level(law.size(ta), p)
            prob = cascade.progression_prob(tr, organs, p, priming)[np.arange(len(ta)), ca, oa]
            wake, death = cascade.dormancy_rates(tr, p)
            pools.append(DormantPool(row=np.full(len(ta), row, dtype=np.int64), organ=oa,
                                     clone=np.full(len(ta), clone, dtype=np.int64), count=np.ones(len(ta), dtype=np.int64),
                                     success=prob * cascade.birth_death_survival(p),
                                     wake=wake * organs.awakening_fold[oa], death=death * organs.dormant_death_fold[oa]))
        return [direct, early]

    def _colonies(self, rng, arrival, cls, organ, founded, tr, clone: int, law: Gompertz, row: int,
                  origin: int) -> Colonies:
        """Colonies from candidates that progress (probability at their arrival day) and then
        survive a Gillespie birth-death start."""
        if len(arrival) == 0:
            return Colonies()
        priming = cascade.priming_level(law.size(arrival), self.p)
        prob = cascade.progression_prob(tr, self.organs, self.p, priming)[np.arange(len(arrival)), cls, organ]
        go = rng.random(len(arrival)) < prob
        escaped, _ = birth_death_escapes(rng, int(go.sum()), self.birth, self.death)
        keep = np.flatnonzero(go)[escaped]
        org = organ[keep]
        return Colonies(row=np.full(len(org), row, dtype=np.int64), organ=org,
                        clone=np.full(len(org), clone, dtype=np.int64), founded=founded[keep],
                        origin=np.full(len(org), origin, dtype=np.int64), rate=law.rate * self.organs.growth_fold[org],
                        luck=rng.random(len(org)))
