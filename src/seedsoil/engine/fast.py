"""The fast engine: exact event-driven sampling by Poisson thinning, for a block of patients
at once (DESIGN.md section 4).

Units leave each tumour mass (the primary, then its axillary deposits) as a Poisson process of
intensity rate x N(t); their fates are independent, so counts at each stage are nested
binomial/multinomial draws over arrays of patients (no unit is created or lost between
stages), and only consequential events (colony founders, awakened dormant cells, nodal
deposits) get times, drawn from the intensity weighted by their time-dependent success
probability. Stage probabilities depend on a patient's traits only through her (subtype, ER,
HER2, lobular) combination, so they are computed once per combination and indexed.

Dormant cells are split at surgery: those that awaken (and progress) before it are drawn with
the rest of the seeding, from the seeding stream; those still dormant at surgery are counted
there too, into the history's dormant pool, and what adjuvant therapy does to them is drawn
later (:meth:`Engine.after_surgery`) from the adjuvant stream. So a change of therapy leaves
every pre-surgical draw of every patient unchanged.

Cost grows with patients and consequential events, not with the cells shed: NumPy over
patients (about a hundred array operations per block, each over the block's patients x grid
cells); the ragged parts (founders, deposits) are flat arrays with a row index, so no loop runs
over patients or events in Python.
"""

from __future__ import annotations

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.growth import Gompertz
from seedsoil.biology.dormancy import awakening_before_surgery, pre_surgery_fates
from seedsoil.biology.nodes import deposit_probability, node_arrest_probabilities
from seedsoil.biology.organs import OrganTable
from seedsoil.engine.contract import (MAX_EVENTS_PER_BLOCK, MAX_EVENTS_PER_PATIENT, MAX_MEAN_UNITS, Capabilities,
                                      Engine, ModelRangeError)
from seedsoil.engine.covariates import TraitTable
from seedsoil.engine.grid import SheddingGrid
from seedsoil.engine.history import (ALL, DIRECT, DORMANT, NODES, ORGAN_COLUMNS, CohortHistory, Colonies,
                                     DormantPool, NodalDeposits, empty_funnel, stage)
from seedsoil.engine.start import CohortStart, finish_block, start_block
from seedsoil.engine.streams import Phase, block_rng
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario


class _CloneTables:
    """One clone's stage probabilities for every trait combination (leading axis = key)."""

    def __init__(self, table: TraitTable, clone: int, organs: OrganTable, p: ParameterSet, bd: float):
        per = lambda fn: table.per_key(clone, fn)  # noqa: E731
        # units per cell-day at the reference TMEM density (blood entry scales with tmem_factor)
        self.blood = per(lambda t: cascade.shedding(t, p["tmem.reference_score"], p).blood)  # (K, 2)
        self.lymph = per(lambda t: cascade.shedding(t, p["tmem.reference_score"], p).lymph)  # (K, 2)
        self.circ = per(lambda t: cascade.circulation_survival(t, p))  # (K, 2)
        self.arrest = per(lambda t: cascade.arrest_distribution(t, organs, p))  # (K, 2, O)
        self.ext = per(lambda t: cascade.extravasation(t, organs, p))  # (K, O)
        self.p0 = per(lambda t: cascade.progression_prob(t, organs, p, 0.0)) * bd  # (K, 2, O)
        self.gain = per(lambda t: cascade.niche_gain(t, organs, p))  # (K, O)
        rates = per(lambda t: np.array(cascade.dormancy_rates(t, p)))  # (K, 2): wake, death per day
        self.wake, self.death = rates[:, 0], rates[:, 1]


def _weighted_success(a: np.ndarray, prim: np.ndarray, p0: np.ndarray, gain: np.ndarray, cap: float) -> np.ndarray:
    """``sum_g a[r,g] * min(p0[r,u,o] (1 + gain[r,o] prim[r,g]), cap)``, shape (R, 2, O): exact, with
    the full grid evaluated only where the cap binds somewhere (rare)."""
    total, primed = a.sum(axis=1), (a * prim).sum(axis=1)
    out = p0 * (total[:, None, None] + gain[:, None, :] * primed[:, None, None])
    bind = p0 * (1.0 + gain[:, None, :] * prim.max(axis=1)[:, None, None]) > cap
    if bind.any():
        r, u, o = np.nonzero(bind)
        full = np.minimum(p0[r, u, o][:, None] * (1.0 + gain[r, o][:, None] * prim[r]), cap)
        out[r, u, o] = (a[r] * full).sum(axis=1)
    return out


def _success_grid(p0: np.ndarray, gain: np.ndarray, prim: np.ndarray, cap: float) -> np.ndarray:
    """Per founder, progression x escape probability on each grid cell: (F, G)."""
    return np.minimum(p0[:, None] * (1.0 + gain[:, None] * prim), cap)


def dormancy_groups(organs: OrganTable) -> list[tuple[float, float, np.ndarray]]:
    """Organs with the same dormancy folds (awakening, death), as (wake fold, death fold, organ
    mask): one group when every soil keeps the traits' rates, so the draws are those of one pass."""
    pairs = list(zip(organs.awakening_fold.tolist(), organs.dormant_death_fold.tolist()))
    return [(a, d, np.array([q == (a, d) for q in pairs])) for a, d in dict.fromkeys(pairs)]


THIN_TO_SHARE = 0.9
"""An extreme patient's founders are thinned to this share of :data:`MAX_EVENTS_PER_PATIENT` (so
the binomial draw stays below it)."""


def _thin_extreme(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Counts (rows, ...) with each row holding more than :data:`MAX_EVENTS_PER_PATIENT` founders
    thinned binomially to about that many: a patient that extreme (about one in 200,000 default
    patients since the site refit) has widespread disease at diagnosis, and the clinic follows her
    oldest colonies per organ either way; her ``n_colonies`` counts the thinned set. The rest are
    untouched (no draw), so only blocks holding such a patient change."""
    per = counts.reshape(len(counts), -1).sum(axis=1)
    over = np.flatnonzero(per > MAX_EVENTS_PER_PATIENT)
    if not over.size:
        return counts
    counts = counts.copy()
    keep = (MAX_EVENTS_PER_PATIENT * THIN_TO_SHARE / per[over]).reshape((-1,) + (1,) * (counts.ndim - 1))
    counts[over] = rng.binomial(counts[over], keep)
    return counts


def _expand(counts: np.ndarray):
    """Indices (r, u, o) repeated by ``counts[r, u, o]``: one entry per event (counts checked by
    :meth:`FastEngine._check_events`)."""
    r, u, o = np.nonzero(counts)
    k = counts[r, u, o]
    return np.repeat(r, k), np.repeat(u, k), np.repeat(o, k)


class FastEngine(Engine):
    """Samples a block of patients' histories in time proportional to patients and events."""

    name = "fast"
    description = "exact event-driven sampling by Poisson thinning, vectorised over blocks of patients (default)"
    capabilities = Capabilities(per_cell=False, batch=True, max_units_per_patient=int(MAX_MEAN_UNITS))

    def __init__(self, scenario: Scenario, params: ParameterSet):
        super().__init__(scenario, params)
        p = params
        self.fates = cascade.fate_shares(self.organs)  # (O, 3)
        self.bd = cascade.birth_death_survival(p)
        self.node_probs = node_arrest_probabilities(p)
        self.deposit = deposit_probability(p)
        self.table = TraitTable(scenario, p)
        self.clones = [_CloneTables(self.table, c, self.organs, p, self.bd) for c in range(len(scenario.clones))]
        self.shares = self.table.shares
        self.dormancy_groups = dormancy_groups(self.organs)

    def simulate_block(self, block: int, seed: int) -> CohortHistory:
        return self.simulate_start(start_block(self.scenario, self.p, seed, block, self.table), seed, block)

    def simulate_start(self, start: CohortStart, seed: int, block: int) -> CohortHistory:
        p = self.p
        rng = block_rng(seed, block, Phase.SEEDING)
        cov, prim = start.covariates, start.primary
        n = len(start)
        key = cov.trait_key
        rows = np.arange(n)
        grid = SheddingGrid.for_primaries(prim)
        priming = cascade.priming_level(grid.size, p)
        tmem = cascade.tmem_factor(cov.tmem_score, p)
        lvi = cov.invasion
        funnel = empty_funnel(n)
        colonies, deposits, pools = [], [], []
        total = grid.total
        mass_cum = np.cumsum(grid.mass, axis=1)
        for c, tab in enumerate(self.clones):
            share = self.shares[c]
            n_blood = rng.poisson(self._check_mean(tab.blood[key] * (lvi * tmem * share * total)[:, None], rows, start))
            n_lymph = rng.poisson(self._check_mean(tab.lymph[key] * (lvi * share * total)[:, None], rows, start))
            colonies += self._blood_route(rng, start, grid, priming, rows, key, c, n_blood, funnel, pools)
            funnel[:, stage("entered_lymph"), ALL] += n_lymph.sum(axis=1)
            funnel[:, stage("arrested"), NODES] += n_lymph.sum(axis=1)
            n_dep = rng.binomial(n_lymph, self.deposit[None, :]).sum(axis=1)
            self._check_events(n_dep, rows, start, "axillary deposits")
            d_row = np.repeat(rows, n_dep)
            founded = grid.sample_times_linear(d_row, mass_cum, mass_cum, np.zeros(len(d_row)),
                                               rng.random(len(d_row)), rng.random(len(d_row)))
            node = rng.choice(len(self.node_probs), size=len(d_row), p=self.node_probs)
            deposits.append(NodalDeposits(row=d_row, node=node, clone=np.full(len(d_row), c), founded=founded,
                                          rate=prim.law.rate[d_row] * p["nodes.growth_fold"],
                                          luck=rng.random(len(d_row))))
        dep = NodalDeposits.concat(deposits)
        # axillary deposits shed into blood until surgery (post-surgical residual nodes do not)
        for c, tab in enumerate(self.clones):
            mine = np.flatnonzero((dep.clone == c) & (dep.founded < prim.diagnosis_day[dep.row]))
            if mine.size == 0:
                continue
            src, inv = np.unique(dep.row[mine], return_inverse=True)
            g = SheddingGrid.for_deposits(inv, dep.founded[mine], dep.rate[mine], p["nodes.capacity_cells"],
                                          prim.diagnosis_day[src])
            sizes = _primary_size(start, src, g.midpoints)
            n_blood = rng.poisson(self._check_mean(tab.blood[key[src]] * (p["dissemination.nodal_blood_fold"]
                                                                         * lvi[src] * g.total)[:, None], src, start))
            colonies += self._blood_route(rng, start, g, cascade.priming_level(sizes, p), src, key[src], c,
                                          n_blood, funnel, pools)
        return finish_block(start, Colonies.concat(colonies), dep, DormantPool.concat(pools), funnel)

    def _check_mean(self, mean: np.ndarray, rows: np.ndarray, start: CohortStart) -> np.ndarray:
        """Expected units shed, refused beyond :data:`MAX_MEAN_UNITS` (a Poisson count must fit int64)."""
        if not np.all(mean <= MAX_MEAN_UNITS):
            i = int(np.argmax(np.where(np.isfinite(mean), mean, np.inf).max(axis=-1)))
            raise ModelRangeError.too_many(self.scenario, self.p, "units shed", float(mean[i].sum()), MAX_MEAN_UNITS,
                                           int(start.patient_id[rows[i]]))
        return mean

    def _check_events(self, counts: np.ndarray, rows: np.ndarray, start: CohortStart, what: str) -> None:
        """Refuse patients with more than :data:`MAX_EVENTS_PER_PATIENT` founders or deposits, or
        blocks with more than :data:`MAX_EVENTS_PER_BLOCK`."""
        per = counts.reshape(len(counts), -1).sum(axis=1)
        if not per.size:
            return
        i = int(per.argmax())
        if per[i] > MAX_EVENTS_PER_PATIENT:
            raise ModelRangeError.too_many(self.scenario, self.p, what, float(per[i]), MAX_EVENTS_PER_PATIENT,
                                           int(start.patient_id[rows[i]]))
        if per.sum() > MAX_EVENTS_PER_BLOCK:
            raise ModelRangeError.too_many(self.scenario, self.p, f"{what} with the {len(per) - 1} others of her block",
                                           float(per.sum()), MAX_EVENTS_PER_BLOCK, int(start.patient_id[rows[i]]))

    def _blood_route(self, rng, start: CohortStart, grid: SheddingGrid, priming: np.ndarray, rows: np.ndarray,
                     key: np.ndarray, clone: int, n_blood: np.ndarray, funnel: np.ndarray,
                     pools: list[DormantPool]) -> list[Colonies]:
        """Circulation -> arrest -> extravasation -> fate for ``n_blood`` (R, 2) units shed over
        ``grid`` by block rows ``rows``; returns the colony founders, directly or after dormancy
        before surgery, and appends the cells still dormant at surgery to ``pools``."""
        tab = self.clones[clone]
        funnel[rows, stage("entered_blood"), ALL] += n_blood.sum(axis=1)
        alive = rng.binomial(n_blood, tab.circ[key])
        funnel[rows, stage("survived_circulation"), ALL] += alive.sum(axis=1)
        arrested = rng.multinomial(alive, tab.arrest[key])  # (R, 2, O)
        extr = rng.binomial(arrested, tab.ext[key][:, None, :])
        fates = rng.multinomial(extr, self.fates)  # (R, 2, O, 3): dormant, micrometastasis, death
        dormant, micro = fates[..., 0], fates[..., 1]
        for name, counts in (("arrested", arrested), ("extravasated", extr), ("dormant", dormant),
                             ("micrometastases", micro)):
            funnel[rows, stage(name), ORGAN_COLUMNS] += counts.sum(axis=1)
        p0, gain = tab.p0[key], tab.gain[key]
        w = grid.mass / np.maximum(grid.total, 1e-300)[:, None]  # arrival density per cell
        # micrometastases found a colony on arrival with the progression probability of that day
        p_direct = np.minimum(_weighted_success(w, priming, p0, gain, self.bd), 1.0)
        direct = self._founders(rng, grid, priming, rows, rng.binomial(micro, p_direct), p0, gain, None, clone,
                                DIRECT, start)
        # dormant cells: awaken before surgery, still dormant at surgery, or die; the soil sets how
        # fast (organ awakening and death folds), so organs sharing folds are drawn together
        t_dx = start.primary.diagnosis_day[rows]
        waiting = np.maximum(t_dx[:, None] - grid.midpoints, 0.0)
        out = [direct]
        for fold_wake, fold_death, in_group in self.dormancy_groups:
            wake, death = tab.wake[key] * fold_wake, tab.death[key] * fold_death
            mine = np.where(in_group[None, None, :], dormant, 0)
            p_pre_g, still_g = pre_surgery_fates(wake[:, None], death[:, None], waiting)
            p_pre = np.minimum(_weighted_success(w * p_pre_g, priming, p0, gain, self.bd), 1.0)
            n_pre = rng.binomial(mine, p_pre)
            q = (w * still_g).sum(axis=1)  # P(still dormant at surgery)
            n_still = rng.binomial(mine - n_pre, np.minimum(q[:, None, None] / np.maximum(1.0 - p_pre, 1e-300), 1.0))
            out.append(self._founders(rng, grid, priming, rows, n_pre, p0, gain, p_pre_g, clone, DORMANT, start,
                                      (fold_wake, fold_death)))
            # cells still dormant at surgery, with the success probability of their arrival days
            p_col = _weighted_success(w * still_g, priming, p0, gain, self.bd) / np.maximum(q, 1e-300)[:, None, None]
            r, u, o = np.nonzero(n_still)
            pools.append(DormantPool(row=rows[r], organ=o, clone=np.full(len(r), clone), count=n_still[r, u, o],
                                     success=np.minimum(p_col[r, u, o], 1.0), wake=wake[r], death=death[r]))
        return out

    def _founders(self, rng, grid: SheddingGrid, priming, rows, n: np.ndarray, p0, gain, wake_g, clone: int,
                  origin: int, start: CohortStart, folds: tuple[float, float] = (1.0, 1.0)) -> Colonies:
        """Founding days of ``n`` (R, 2, O) founders: arrival by intensity x success probability
        (x P(awakening before surgery) for dormant cells, ``wake_g``), then the awakening day.
        Success is linear in priming unless capped, so arrival cells are found from two per-row
        cumulative profiles; founders whose success is capped somewhere use their full weights."""
        n = _thin_extreme(rng, n)
        self._check_events(n, rows, start, "colony founders")
        r, u, o = _expand(n)
        if len(r) == 0:
            return Colonies()
        base = grid.mass if wake_g is None else grid.mass * wake_g
        gamma, p = gain[r, o], p0[r, u, o]
        capped = p * (1.0 + gamma * priming.max(axis=1)[r]) > self.bd
        u_cell, u_time = rng.random(len(r)), rng.random(len(r))
        rows_used = np.unique(r)  # cumulative profiles only for rows with founders
        local = np.searchsorted(rows_used, r)
        b = base[rows_used]
        t = grid.take(rows_used).sample_times_linear(local, np.cumsum(b, axis=1),
                                                     np.cumsum(b * priming[rows_used], axis=1), gamma, u_cell, u_time)
        if capped.any():
            i = np.flatnonzero(capped)
            weights = _success_grid(p[i], gamma[i], priming[r[i]], self.bd)
            if wake_g is not None:
                weights = weights * wake_g[r[i]]
            t[i] = grid.sample_times(r[i], weights, u_cell[i], u_time[i])
        pid = rows[r]
        if origin == DORMANT:
            tab = self.clones[clone]
            k = start.covariates.trait_key[pid]
            t = awakening_before_surgery(t, start.primary.diagnosis_day[pid], tab.wake[k] * folds[0],
                                         tab.death[k] * folds[1], rng.random(len(r)))
        return self._colonies(rng, pid, o, t, clone, origin, start)

    def _colonies(self, rng, pid, organ, founded, clone: int, origin: int, start: CohortStart) -> Colonies:
        return Colonies(row=pid, organ=organ, clone=np.full(len(pid), clone), founded=founded,
                        origin=np.full(len(pid), origin),
                        rate=start.primary.law.rate[pid] * self.organs.growth_fold[organ], luck=rng.random(len(pid)))


def _primary_size(start: CohortStart, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each row's primary size (cells) at the times ``t`` (R, G)."""
    law = start.primary.law
    return Gompertz(rate=law.rate[rows][:, None], capacity=law.capacity, n0=law.n0).size(t)
