"""The fast engine: exact event-driven sampling by Poisson thinning (DESIGN.md section 4).

Units leave each tumour mass (the primary, then its axillary deposits) as a Poisson process of
intensity rate x N(t); their fates are independent, so counts at each stage are nested
binomial/multinomial draws (no unit is created or lost between stages), and only consequential
events (colony founders, awakened dormant cells, nodal deposits) get times, drawn from the
intensity weighted by their time-dependent success probability. Cost grows with the number of
consequential events, not with the cells shed.
"""

from __future__ import annotations

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.nodes import deposit_probability, node_arrest_probabilities
from seedsoil.biology.organs import OrganTable
from seedsoil.engine.grid import ShedGrid
from seedsoil.engine.history import Colonies, NodalDeposits, PatientHistory, empty_funnel, stage
from seedsoil.engine.patient import start_patient
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario

ALL, NODES = 0, -1  # funnel columns: whole body, axillary nodes (organs in between)


class FastEngine:
    """Samples one patient's history in time proportional to its consequential events."""

    name = "fast"

    def __init__(self, scenario: Scenario, params: ParameterSet):
        self.scenario, self.p = scenario, params
        self.organs = OrganTable.from_params(params)
        self.fates = cascade.fate_shares(self.organs)
        self.bd = cascade.birth_death_survival(params)
        self.node_probs = node_arrest_probabilities(params)
        self.deposit = deposit_probability(params)
        self._cache: dict = {}

    def _clone(self, tr) -> tuple:
        """Stage probabilities that depend on the trait vector only (few distinct vectors per cohort):
        circulation survival, arrest, extravasation, priming-free progression x survival, niche gain."""
        hit = self._cache.get(tr)
        if hit is None:
            p, organs = self.p, self.organs
            hit = (cascade.circulation_survival(tr, p), cascade.arrest_distribution(tr, organs, p),
                   cascade.extravasation(tr, organs, p)[None, :],
                   cascade.progression_prob(tr, organs, p, 0.0) * self.bd, cascade.niche_gain(tr, organs, p))
            self._cache[tr] = hit
        return hit

    def simulate(self, patient_id: int, seed: int) -> PatientHistory:
        p = self.p
        start = start_patient(self.scenario, p, seed, patient_id)
        rng, cov, primary, plan = start.rng, start.covariates, start.primary, start.plan
        traits, shares, scheds = start.traits, start.shares, start.schedules
        grid = ShedGrid.build(primary)
        priming = cascade.priming_level(grid.size, p)
        funnel = empty_funnel()
        colonies: list[Colonies] = []
        dep_node, dep_clone, dep_t = [], [], []
        # 1. the primary: blood (through TMEM doorways) and lymph
        for c, (tr, share) in enumerate(zip(traits, shares)):
            sh = cascade.shedding(tr, cov.tmem_score, p)
            n_blood = rng.poisson(sh.blood * share * grid.total)
            n_lymph = rng.poisson(sh.lymph * share * grid.total)
            funnel[stage("entered_lymph"), ALL] += n_lymph.sum()
            colonies += self._blood_route(rng, grid, priming, tr, c, n_blood, funnel, primary.law.rate, scheds[c])
            n_dep = rng.binomial(n_lymph, self.deposit)
            funnel[stage("arrested"), NODES] += n_lymph.sum()
            funnel[stage("colonies"), NODES] += n_dep.sum()
            total = int(n_dep.sum())
            dep_t.append(grid.sample_times(rng, np.ones(len(grid.mass)), total))
            dep_node.append(rng.choice(len(self.node_probs), size=total, p=self.node_probs))
            dep_clone.append(np.full(total, c))
        deposits = NodalDeposits(node=np.concatenate(dep_node), clone=np.concatenate(dep_clone),
                                 founded=np.concatenate(dep_t))
        deposits.rate = np.full(len(deposits), primary.law.rate * p["nodes.growth_fold"])
        # 2. axillary deposits shed into blood until surgery (post-surgical residual nodes do not)
        for c, tr in enumerate(traits):
            mine = (deposits.clone == c) & (deposits.founded < primary.diagnosis_day)
            if not mine.any():
                continue
            g = ShedGrid.for_masses(deposits.rate[mine], p["nodes.capacity_cells"], deposits.founded[mine],
                                    primary.diagnosis_day)
            prim = cascade.priming_level(primary.law.size(g.midpoints), p)
            sh = cascade.shedding(tr, p["tmem.reference_score"], p)
            n_blood = rng.poisson(sh.blood * p["dissemination.nodal_blood_fold"] * g.total)
            colonies += self._blood_route(rng, g, prim, tr, c, n_blood, funnel, primary.law.rate, scheds[c])
        cols = Colonies.concat(colonies).sorted()
        funnel[stage("colonies"), 1:NODES] += np.bincount(cols.organ, minlength=len(self.organs.names))
        funnel[stage("shed"), ALL] = funnel[stage("entered_lymph"), ALL] + funnel[stage("entered_blood"), ALL]
        return PatientHistory(patient_id, cov, primary, tuple(cl.name for cl in self.scenario.clones),
                              traits, plan, cols, deposits, funnel)

    def _blood_route(self, rng, grid: ShedGrid, priming: np.ndarray, tr, clone: int, n_blood: np.ndarray,
                     funnel: np.ndarray, rate: float, sched) -> list[Colonies]:
        """Circulation -> arrest -> extravasation -> fate for ``n_blood`` units (single, cluster)
        shed over ``grid``; returns the colony founders, directly or after dormancy."""
        circ, arrest, ext, p_col0, gain = self._clone(tr)
        funnel[stage("entered_blood"), ALL] += n_blood.sum()
        alive = rng.binomial(n_blood, circ)
        funnel[stage("survived_circulation"), ALL] += alive.sum()
        arrested = rng.multinomial(alive, arrest)  # (2, O)
        extr = rng.binomial(arrested, ext)
        fates = rng.multinomial(extr, np.broadcast_to(self.fates, extr.shape + (3,)))  # (2, O, 3)
        dormant, micro = fates[..., 0], fates[..., 1]
        for name, counts in (("arrested", arrested), ("extravasated", extr), ("dormant", dormant), ("micrometastases", micro)):
            funnel[stage(name), 1:NODES] += counts.sum(axis=0)
        # = cascade.progression_prob(tr, organs, p, priming) * bd, from the cached priming-free part
        p_col = np.minimum(p_col0[None] * (1.0 + gain[None, None, :] * priming[:, None, None]), self.bd)  # (G, 2, O)
        p_wake = sched.probability(grid.midpoints)  # (G,)
        return [self._founders(rng, grid, micro, p_col, 0, clone, rate, sched),
                self._founders(rng, grid, dormant, p_col * p_wake[:, None, None], 1, clone, rate, sched)]

    def _founders(self, rng, grid: ShedGrid, n_src: np.ndarray, w: np.ndarray, origin: int, clone: int,
                  rate: float, sched) -> Colonies:
        """Thin ``n_src`` (class, organ) counts by the time-dependent success probability ``w``
        (grid, class, organ); founders' arrival times follow intensity x w."""
        mass = grid.mass / grid.total
        p_bar = np.einsum("g,guo->uo", mass, w)
        n = rng.binomial(n_src, np.minimum(p_bar, 1.0))
        organ, founded = [], []
        for u, o in zip(*np.nonzero(n)):
            t = grid.sample_times(rng, w[:, u, o], int(n[u, o]))
            if origin == 1:
                t = sched.sample_time(t, rng.random(len(t)), rng.random(len(t)))
            organ.append(np.full(len(t), o))
            founded.append(t)
        if not organ:
            return Colonies()
        org = np.concatenate(organ)
        return Colonies(organ=org, clone=np.full(len(org), clone), founded=np.concatenate(founded),
                        origin=np.full(len(org), origin), rate=rate * self.organs.growth_fold[org])
