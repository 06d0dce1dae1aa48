"""The fast engine: exact event-driven sampling by Poisson thinning (DESIGN.md section 4).

Units leave as a Poisson process of intensity rate x N(t); their fates are independent, so
counts at each stage are nested binomial/multinomial draws (no unit is created or lost between
stages), and only consequential events (colony founders, awakened dormant cells, nodal deposits)
get times, drawn from the intensity weighted by their time-dependent success probability.
Cost grows with the number of consequential events, not with the cells shed.
"""

from __future__ import annotations

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.nodes import deposit_probability, node_arrest_probabilities
from seedsoil.biology.organs import OrganTable
from seedsoil.biology.therapy import TreatmentPlan, awakening_schedule
from seedsoil.engine.covariates import clone_traits, primary_growth, sample_covariates
from seedsoil.engine.grid import ShedGrid
from seedsoil.engine.history import Colonies, NodalDeposits, PatientHistory, empty_funnel, stage
from seedsoil.engine.streams import patient_rng
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

    def simulate(self, patient_id: int, seed: int) -> PatientHistory:
        p, organs = self.p, self.organs
        rng = patient_rng(seed, patient_id)
        cov = sample_covariates(self.scenario, p, rng)
        primary = primary_growth(cov, p)
        traits, shares = clone_traits(self.scenario, cov, p)
        plan = TreatmentPlan.standard(cov.er, p)
        grid = ShedGrid.build(primary)
        priming = cascade.priming_level(grid.size, p)
        funnel = empty_funnel()
        colonies: list[Colonies] = []
        node_idx: list[np.ndarray] = []
        node_t: list[np.ndarray] = []
        for c, (tr, share) in enumerate(zip(traits, shares)):
            sh = cascade.shedding(tr, cov.tmem_score, p)
            n_blood = rng.poisson(sh.blood * share * grid.total)
            n_lymph = rng.poisson(sh.lymph * share * grid.total)
            funnel[stage("shed"), ALL] += n_blood.sum() + n_lymph.sum()
            funnel[stage("entered_blood"), ALL] += n_blood.sum()
            funnel[stage("entered_lymph"), ALL] += n_lymph.sum()
            # blood route: circulation -> arrest -> extravasation -> fate
            alive = rng.binomial(n_blood, cascade.circulation_survival(tr, p))
            funnel[stage("survived_circulation"), ALL] += alive.sum()
            arrested = rng.multinomial(alive, cascade.arrest_distribution(tr, organs, p))  # (2, O)
            extr = rng.binomial(arrested, cascade.extravasation(tr, organs, p)[None, :])
            fates = rng.multinomial(extr, np.broadcast_to(self.fates, extr.shape + (3,)))  # (2, O, 3)
            dormant, micro = fates[..., 0], fates[..., 1]
            for name, counts in (("arrested", arrested), ("extravasated", extr), ("dormant", dormant), ("micrometastases", micro)):
                funnel[stage(name), 1:NODES] += counts.sum(axis=0)
            # consequential events: progressing colonies, directly or after dormancy
            p_col = cascade.progression_prob(tr, organs, p, priming) * self.bd  # (G, 2, O)
            sched = awakening_schedule(tr, primary.diagnosis_day, plan, p)
            p_wake = sched.probability(grid.midpoints)  # (G,)
            for origin, n_src, w in ((0, micro, p_col), (1, dormant, p_col * p_wake[:, None, None])):
                colonies.append(self._founders(rng, grid, n_src, w, origin, c, primary.law.rate, sched))
            # lymphatic route: nodes, sentinel first
            n_dep = rng.binomial(n_lymph, self.deposit)
            funnel[stage("arrested"), NODES] += n_lymph.sum()
            funnel[stage("colonies"), NODES] += n_dep.sum()
            total = int(n_dep.sum())
            if total:
                node_t.append(grid.sample_times(rng, np.ones(len(grid.mass)), total))
                node_idx.append(rng.choice(len(self.node_probs), size=total, p=self.node_probs))
        cols = Colonies.concat(colonies).sorted()
        funnel[stage("colonies"), 1:NODES] += np.bincount(cols.organ, minlength=len(organs.names))
        deposits = NodalDeposits()
        if node_t:
            t = np.concatenate(node_t)
            deposits = NodalDeposits(node=np.concatenate(node_idx), founded=t,
                                     rate=np.full(len(t), primary.law.rate * p["nodes.growth_fold"]))
        return PatientHistory(patient_id, cov, primary, tuple(cl.name for cl in self.scenario.clones),
                              traits, plan, cols, deposits, funnel)

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
