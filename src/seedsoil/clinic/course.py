"""From biological histories to patients, for a block at once: surgery and staging, detection
of metastases, metastatic-phase therapy, death by organ failure or other causes, and the trial
endpoints.

Endpoints follow STEEP (Hudis et al. 2007 J Clin Oncol 25:2127): DFS counts regional recurrence,
distant metastasis and death from any cause; DMFS counts distant metastasis and death; OS death.
All patient-facing times are days from diagnosis (= surgery), censored at the follow-up horizon.
"""

from __future__ import annotations

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.cascade import DAYS_PER_YEAR
from seedsoil.biology.growth import Gompertz, cells_to_diameter, diameter_to_cells
from seedsoil.biology.organs import OrganTable
from seedsoil.clinic.records import ClinicalBlock, Labels, LesionRecords, PatientRecords
from seedsoil.clinic.staging import (M_CATEGORIES, N_CATEGORIES, STAGE_GROUPS, STAGE_TABLE, T_CATEGORIES, n_codes,
                                     t_codes)
from seedsoil.engine.history import ORGAN_COLUMNS, ORIGINS, CohortHistory, stage
from seedsoil.engine.sampling import poisson_from_uniform
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.params import ParameterSet
from seedsoil.scenario import HISTOLOGIES, SUBTYPES

FAILURE_SEARCH_YEARS = 40.0
"""Organ failure is searched for over this many years from diagnosis (the longest follow-up a
scenario allows), whatever the follow-up, so that a shorter follow-up only censors earlier."""
FAILURE_BISECTIONS = 32
"""Bisection steps of the organ-failure search (40 years / 2^32 ~ 3e-6 days)."""


def _segment_min(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Per group 0..n-1, the smallest value (inf for empty groups)."""
    out = np.full(n, np.inf)
    np.minimum.at(out, groups, values)
    return out


def _site_strings(rows: np.ndarray, organs: np.ndarray, n: int, names: tuple[str, ...]) -> Labels:
    """Per patient, the ';'-joined alphabetical names of the organs listed for her ('' if none)."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    bit = np.zeros(len(names), dtype=np.int64)
    bit[order] = 1 << np.arange(len(names))
    mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(mask, rows, bit[organs])
    uniq, inv = np.unique(mask, return_inverse=True)
    return Labels(inv.astype(np.int64), tuple(";".join(names[i] for i in order if m & bit[i]) for m in uniq))


class Clinic:
    """Applies the clinical rules of a parameter set to blocks of histories (one per run)."""

    def __init__(self, params: ParameterSet, organs: OrganTable, follow_up_years: float):
        self.p, self.organs = params, organs
        self.horizon = follow_up_years * DAYS_PER_YEAR
        self.capacity = params["growth.carrying_capacity_cells"]
        self.per_mm3 = params["cells.per_mm3"]
        self.detect_cells = diameter_to_cells(organs.detection_mm, self.per_mm3)
        self.node_clinical_cells = float(diameter_to_cells(params["nodes.clinical_detection_mm"], self.per_mm3))

    # -- pieces -----------------------------------------------------------------------------
    @staticmethod
    def _clock(t, t_m, fold: float):
        """Growth clock of metastases: real time until systemic therapy starts at ``t_m``, then slowed."""
        with np.errstate(invalid="ignore"):
            return np.where(t <= t_m, t, t_m + fold * (t - t_m))

    def _colony_cells(self, h: CohortHistory, t, t_m, idx) -> np.ndarray:
        """Cells of colonies ``idx`` at absolute days ``t`` (one per colony); 0 before founding."""
        c = h.colonies
        fold = h.plan.metastatic_growth_fold
        elapsed = self._clock(t, t_m, fold) - self._clock(c.founded[idx], t_m, fold)
        law = Gompertz(rate=c.rate[idx], capacity=self.capacity)
        return np.where(elapsed >= 0, law.size(elapsed), 0.0)

    def _organ_failure(self, h: CohortHistory, t_dx: np.ndarray, t_m: np.ndarray):
        """Per patient, the first day (absolute) on which some organ's total burden reaches what
        it tolerates (searched over :data:`FAILURE_SEARCH_YEARS`), and that organ (inf, -1 when
        none): bisection per (patient, organ), burdens being non-decreasing in time."""
        c, n, n_org = h.colonies, len(h), len(self.organs.names)
        fail = np.full(n * n_org, np.inf)
        if len(c):
            seg = c.row * n_org + c.organ
            tol = np.tile(self.organs.tolerated_burden_cells, n)
            tm = t_m[c.row]
            end = t_dx + FAILURE_SEARCH_YEARS * DAYS_PER_YEAR
            everyone = np.arange(len(c))
            over = np.bincount(seg, self._colony_cells(h, end[c.row], tm, everyone), n * n_org) >= tol
            at_dx = np.bincount(seg, self._colony_cells(h, t_dx[c.row], tm, everyone), n * n_org) >= tol
            fail[at_dx] = t_dx.repeat(n_org)[at_dx]
            todo = np.flatnonzero(over & ~at_dx)
            if todo.size:
                dense = np.full(n * n_org, -1)
                dense[todo] = np.arange(todo.size)
                idx = np.flatnonzero(dense[seg] >= 0)
                s_idx = dense[seg[idx]]
                fold = h.plan.metastatic_growth_fold
                law = Gompertz(rate=c.rate[idx], capacity=self.capacity)
                tm_i = tm[idx]
                start = self._clock(c.founded[idx], tm_i, fold)
                lo, hi = t_dx[todo // n_org].copy(), end[todo // n_org].copy()
                tol_s = tol[todo]
                for _ in range(FAILURE_BISECTIONS):
                    mid = 0.5 * (lo + hi)
                    elapsed = self._clock(mid[s_idx], tm_i, fold) - start
                    cells = np.where(elapsed >= 0, law.size(elapsed), 0.0)
                    up = np.bincount(s_idx, cells, todo.size) >= tol_s
                    hi = np.where(up, mid, hi)
                    lo = np.where(up, lo, mid)
                fail[todo] = hi
        fail = fail.reshape(n, n_org)
        organ = fail.argmin(axis=1)
        when = fail[np.arange(n), organ]
        return when, np.where(np.isfinite(when), organ, -1)

    def _deposit_cells(self, h: CohortHistory, t: np.ndarray) -> np.ndarray:
        """Cells in each axillary deposit at its patient's day ``t`` (0 if not yet founded)."""
        d = h.deposits
        law = Gompertz(rate=d.rate, capacity=self.p["nodes.capacity_cells"])
        age = t[d.row] - d.founded
        return np.where(age >= 0, law.size(age), 0.0)

    def _nodes(self, h: CohortHistory, t_dx: np.ndarray, deposit_cells: np.ndarray):
        """Surgery on the axilla: sentinel biopsy, completion dissection when needed; pN codes,
        positive and examined node counts, and the day residual disease becomes clinical."""
        p, d, n = self.p, h.deposits, len(h)
        n_nodes, n_sln = int(p["nodes.count"]), int(p["nodes.sentinel_count"])
        node_max = np.zeros((n, n_nodes))
        np.maximum.at(node_max, (d.row, d.node), cells_to_diameter(deposit_cells, self.per_mm3))
        clinical = (node_max >= p["nodes.clinical_detection_mm"]).any(axis=1)
        sln_macro = (node_max[:, :n_sln] > p["nodes.micromet_max_mm"]).any(axis=1)
        full = clinical | sln_macro
        removed = full[:, None] | (np.arange(n_nodes) < n_sln)[None, :]
        pn, positive = n_codes(np.where(removed, node_max, 0.0), itc_max=p["nodes.itc_max_mm"],
                               micro_max=p["nodes.micromet_max_mm"], n1_max=int(p["nodes.pn1a_max_positive"]),
                               n2_max=int(p["nodes.pn2a_max_positive"]))
        examined = np.where(full, n_nodes, min(n_sln, n_nodes))
        left = ~removed[d.row, d.node]
        reach = d.founded + Gompertz(rate=d.rate, capacity=p["nodes.capacity_cells"]).time_to(self.node_clinical_cells)
        regional = _segment_min(reach[left], d.row[left], n)
        regional = np.where(np.isfinite(regional), np.maximum(regional, t_dx), np.inf)
        return pn, positive, examined, regional

    def _ctc_expected(self, h: CohortHistory, deposit_cells: np.ndarray) -> np.ndarray:
        """Expected CTC units in one blood draw at diagnosis: primary (through TMEM doorways) plus
        axillary deposits, at steady state with the patient CTC half-life (Meng et al. 2004)."""
        p, cov, table = self.p, h.covariates, h.traits
        ref = p["tmem.reference_score"]
        per_clone = np.stack([table.per_key(c, lambda t: cascade.shedding(t, ref, p).blood.sum())
                              for c in range(len(table.clone_names))], axis=1)  # (keys, clones)
        key = cov.trait_key
        rate = (per_clone[key] * table.shares[None, :]).sum(axis=1) * cascade.tmem_factor(cov.tmem_score, p) \
            * h.primary.diagnosis_cells
        d = h.deposits
        if len(d):
            nodal = deposit_cells * per_clone[key[d.row], d.clone] * p["dissemination.nodal_blood_fold"]
            rate = rate + np.bincount(d.row, nodal, len(h))
        return cascade.circulating_units(rate, p, p["circulation.ctc_sample_ml"])

    def _other_death(self, age: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Days from diagnosis to death from other causes (Gompertz mortality by age), by
        inversion of unit exponentials ``e``."""
        a, b = self.p["mortality.gompertz_a_per_year"], self.p["mortality.gompertz_b_per_year"]
        return np.log1p(e * b / (a * np.exp(b * age))) / b * DAYS_PER_YEAR

    # -- the whole course --------------------------------------------------------------------
    def course(self, h: CohortHistory, rng: np.random.Generator) -> ClinicalBlock:
        """The clinical course of every patient of ``h`` (patients of one block); ``rng`` is that
        block's clinic stream, drawn for the whole block and read by each patient's block row, so
        her course does not depend on which other patients of the block are simulated."""
        p, cov, c, n = self.p, h.covariates, h.colonies, len(h)
        rows_in_block = h.patient_id % BLOCK_PATIENTS
        e_other = rng.exponential(size=BLOCK_PATIENTS)[rows_in_block]
        u_ctc = rng.random(BLOCK_PATIENTS)[rows_in_block]
        t_dx = h.primary.diagnosis_day
        fold = h.plan.metastatic_growth_fold
        # untreated detection of each colony: growth-clock time to the organ's detection size
        need = Gompertz(rate=c.rate, capacity=self.capacity).time_to(self.detect_cells[c.organ])
        untreated = c.founded + need
        first = _segment_min(untreated, c.row, n)
        m1 = first <= t_dx
        t_m = np.where(np.isfinite(first), np.maximum(first, t_dx), np.inf)  # metastatic therapy starts
        tm = t_m[c.row]
        with np.errstate(divide="ignore", invalid="ignore"):
            target = self._clock(c.founded, tm, fold) + need
            detect = np.where(untreated <= tm, np.maximum(untreated, t_dx[c.row]),
                              tm + (target - tm) / fold if fold > 0 else np.inf)
        organ_death, organ_idx = self._organ_failure(h, t_dx, t_m)
        other = t_dx + self._other_death(cov.age, e_other)
        dep_cells = self._deposit_cells(h, t_dx)
        ctc = poisson_from_uniform(u_ctc, self._ctc_expected(h, dep_cells))
        death = np.minimum(organ_death, other)
        horizon_day = t_dx + self.horizon
        end = np.minimum(death, horizon_day)
        seen = detect <= end[c.row]
        pn, positive, examined, regional = self._nodes(h, t_dx, dep_cells)
        pt = t_codes(cov.diameter_mm, t1_max=p["staging.t1_max_mm"], t2_max=p["staging.t2_max_mm"])
        first_distant = _segment_min(detect[seen], c.row[seen], n)

        def endpoint(t):
            event = t <= horizon_day
            return np.where(event, t - t_dx, self.horizon), event

        os_days, os_event = endpoint(death)
        dmfs_days, dmfs_event = endpoint(np.minimum(first_distant, death))
        dfs_days, dfs_event = endpoint(np.minimum(np.minimum(first_distant, death), regional))
        idx = np.flatnonzero(seen)
        idx = idx[np.lexsort((c.organ[idx], detect[idx], c.row[idx]))]
        rows = c.row[idx]
        sizes = self._colony_cells(h, detect[idx], tm[idx], idx)
        names = self.organs.names
        lesions = LesionRecords(
            patient_id=h.patient_id[rows], organ=Labels(c.organ[idx], names),
            detection_day=detect[idx] - t_dx[rows], size_mm=cells_to_diameter(sizes, self.per_mm3),
            clone=Labels(c.clone[idx], h.clone_names), founded_day=c.founded[idx] - t_dx[rows],
            origin=Labels(c.origin[idx], ORIGINS))
        window = p["followup.first_sites_window_days"]
        in_first = detect[idx] <= first_distant[rows] + window
        organs_seen = c.organ[idx]
        n_org = len(names)
        cause = Labels(np.where(os_event, np.where(organ_death <= other, organ_idx, n_org), n_org + 1),
                       tuple(f"organ_failure:{o}" for o in names) + ("other_causes", ""))
        m_code = m1.astype(np.int64)
        patients = PatientRecords(
            patient_id=h.patient_id.astype(np.int64), subtype=Labels(cov.subtype, SUBTYPES),
            histology=Labels(cov.lobular.astype(np.int64), HISTOLOGIES), er=cov.er, pr=cov.pr, her2=cov.her2,
            age_at_diagnosis=cov.age, tumor_size_mm=cov.diameter_mm, grade=cov.grade, tmem_score=cov.tmem_score,
            positive_nodes=positive.astype(np.int64), nodes_examined=examined.astype(np.int64),
            pT=Labels(pt, T_CATEGORIES), pN=Labels(pn, N_CATEGORIES), M=Labels(m_code, M_CATEGORIES),
            stage=Labels(STAGE_TABLE[pt, pn, m_code], STAGE_GROUPS),
            dfs_days=dfs_days, dmfs_days=dmfs_days, os_days=os_days,
            dfs_event=dfs_event, dmfs_event=dmfs_event, os_event=os_event, death_cause=cause,
            first_metastasis_sites=_site_strings(rows[in_first], organs_seen[in_first], n, names),
            metastasis_sites=_site_strings(rows, organs_seen, n, names),
            regional_recurrence_day=np.where(regional <= end, regional - t_dx, np.nan),
            n_colonies=np.bincount(c.row, minlength=n).astype(np.int64), ctc_7_5ml=ctc.astype(np.int64))
        funnel = h.funnel.sum(axis=0)
        funnel[stage("detected"), ORGAN_COLUMNS] += np.bincount(organs_seen, minlength=len(names))
        return ClinicalBlock(patients=patients, lesions=lesions, funnel=funnel)
