"""From a biological history to a patient: surgery and staging, detection of metastases,
metastatic-phase therapy, death by organ failure or other causes, and the trial endpoints.

Endpoints follow STEEP (Hudis et al. 2007 J Clin Oncol 25:2127): DFS counts regional recurrence,
distant metastasis and death from any cause; DMFS counts distant metastasis and death; OS death.
All patient-facing times are days from diagnosis (= surgery), censored at the follow-up horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.cascade import DAYS_PER_YEAR
from seedsoil.biology.growth import cells_to_diameter, diameter_to_cells
from seedsoil.biology.organs import OrganTable
from seedsoil.clinic.staging import n_category, stage_group, t_category
from seedsoil.engine.history import ORIGINS, PatientHistory
from seedsoil.params import ParameterSet

BURDEN_STEP_DAYS = 7.0  # numerical resolution of the organ-failure search (refined by interpolation)
BURDEN_CHUNK = 512  # colonies evaluated at once on the follow-up grid (bounds memory)


@dataclass
class ClinicalOutcome:
    """One patients.parquet row, her detected lesions, and detected metastases by organ index."""

    row: dict
    lesions: list[dict]
    detected_by_organ: np.ndarray


def _log_distance(rate, clock_elapsed, capacity):
    """``ln(K/N)`` of a one-cell Gompertz colony after ``clock_elapsed`` days of its growth clock."""
    return math.log(capacity) * np.exp(-rate * np.maximum(clock_elapsed, 0.0))


class Clinic:
    """Applies the clinical rules of a parameter set to histories (one instance per run)."""

    def __init__(self, params: ParameterSet, organs: OrganTable, follow_up_years: float,
                 clone_shares: tuple[float, ...] = (1.0,)):
        self.p, self.organs = params, organs
        self.clone_shares = np.asarray(clone_shares, dtype=float)
        self.horizon = follow_up_years * DAYS_PER_YEAR
        self.capacity = params["growth.carrying_capacity_cells"]
        self.per_mm3 = params["cells.per_mm3"]
        self.detect_cells = diameter_to_cells(organs.detection_mm, self.per_mm3)
        self.node_clinical_cells = float(diameter_to_cells(params["nodes.clinical_detection_mm"], self.per_mm3))

    # -- pieces -----------------------------------------------------------------------------
    def _clock(self, t, t_m: float, fold: float):
        """Growth clock of metastases: real time until systemic therapy starts at ``t_m``, then slowed."""
        t = np.asarray(t, dtype=float)
        return np.where(t <= t_m, t, t_m + fold * (t - t_m))

    def _sizes(self, h: PatientHistory, t, t_m: float, which=None) -> np.ndarray:
        """Cells of colonies at absolute times: shape (colonies, times) for a time vector ``t``;
        with ``which`` (colony indices, same length as ``t``) each colony at its own time."""
        c = h.colonies
        fold = h.plan.metastatic_growth_fold
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        if which is None:
            founded, rate, tt = c.founded[:, None], c.rate[:, None], tt[None, :]
        else:
            founded, rate = c.founded[which], c.rate[which]
        elapsed = self._clock(tt, t_m, fold) - self._clock(founded, t_m, fold)
        x = _log_distance(rate, elapsed, self.capacity)
        return np.where(elapsed >= 0, self.capacity * np.exp(-x), 0.0)

    def _deposit_cells(self, h: PatientHistory, t: float) -> np.ndarray:
        """Cells in each axillary deposit at day ``t`` (Gompertz to the node's capacity; 0 if not yet founded)."""
        d, cap = h.deposits, self.p["nodes.capacity_cells"]
        x = math.log(cap) * np.exp(-d.rate * np.maximum(t - d.founded, 0.0))
        return np.where(d.founded <= t, cap * np.exp(-x), 0.0)

    def _nodes(self, h: PatientHistory, t_dx: float):
        """Surgery on the axilla: sentinel biopsy, completion dissection when needed; pN."""
        p, d = self.p, h.deposits
        n_nodes, n_sln = int(p["nodes.count"]), int(p["nodes.sentinel_count"])
        ln_k = math.log(p["nodes.capacity_cells"])
        cells = self._deposit_cells(h, t_dx)
        node_max = np.zeros(n_nodes)
        np.maximum.at(node_max, d.node, cells_to_diameter(cells, self.per_mm3))
        clinical_positive = bool(np.any(node_max >= p["nodes.clinical_detection_mm"]))
        sln_macro = bool(np.any(node_max[:n_sln] > p["nodes.micromet_max_mm"]))
        removed = np.arange(n_nodes) if (clinical_positive or sln_macro) else np.arange(n_sln)
        pn, positive = n_category(node_max[removed], itc_max=p["nodes.itc_max_mm"], micro_max=p["nodes.micromet_max_mm"],
                                  n1_max=int(p["nodes.pn1a_max_positive"]), n2_max=int(p["nodes.pn2a_max_positive"]))
        left = ~np.isin(d.node, removed)
        regional = math.inf
        if left.any():
            frac = math.log(self.node_clinical_cells) / ln_k
            reach = d.founded[left] - math.log1p(-frac) / d.rate[left]
            regional = float(max(reach.min(), t_dx))
        return pn, positive, len(removed), regional

    def _ctc_expected(self, h: PatientHistory, t_dx: float) -> float:
        """Expected CTC units in one blood draw at diagnosis: primary (through TMEM doorways) plus
        axillary deposits, at steady state with the patient CTC half-life (Meng et al. 2004)."""
        p, cov = self.p, h.covariates
        rate = sum(share * cascade.shedding(tr, cov.tmem_score, p).blood.sum() * h.primary.diagnosis_cells
                   for share, tr in zip(self.clone_shares, h.traits))
        d = h.deposits
        if len(d):
            per_clone = np.array([cascade.shedding(tr, p["tmem.reference_score"], p).blood.sum() for tr in h.traits])
            rate += float((self._deposit_cells(h, t_dx) * per_clone[d.clone]).sum()) * p["dissemination.nodal_blood_fold"]
        return float(cascade.circulating_units(rate, p, p["circulation.ctc_sample_ml"]))

    def _other_death(self, age: float, rng: np.random.Generator) -> float:
        """Days from diagnosis to death from other causes (Gompertz mortality by age)."""
        a, b = self.p["mortality.gompertz_a_per_year"], self.p["mortality.gompertz_b_per_year"]
        e = rng.exponential()
        return math.log1p(e * b / (a * math.exp(b * age))) / b * DAYS_PER_YEAR

    def _organ_failure(self, h: PatientHistory, t_dx: float, t_m: float) -> tuple[float, int]:
        """First day (absolute) any organ's total burden reaches what it tolerates; organ index."""
        c = h.colonies
        if len(c) == 0:
            return math.inf, -1
        grid = t_dx + np.arange(0.0, self.horizon + 2 * BURDEN_STEP_DAYS, BURDEN_STEP_DAYS)
        n_org = len(self.organs.names)
        burden = np.zeros((n_org, len(grid)))
        for a in range(0, len(c), BURDEN_CHUNK):
            idx = np.arange(a, min(a + BURDEN_CHUNK, len(c)))
            sizes = self._sizes(h, np.broadcast_to(grid, (len(idx), len(grid))), t_m, which=idx[:, None])
            np.add.at(burden, c.organ[idx], sizes)
        ratio = burden / self.organs.tolerated_burden_cells[:, None]
        over = ratio >= 1.0
        if not over.any():
            return math.inf, -1
        first = np.where(over.any(axis=1), over.argmax(axis=1), len(grid))
        o = int(first.argmin())
        k = int(first[o])
        if k == 0:
            return float(grid[0]), o
        r0, r1 = math.log(ratio[o, k - 1] + 1e-300), math.log(ratio[o, k])
        frac = (0.0 - r0) / (r1 - r0) if r1 > r0 else 1.0
        return float(grid[k - 1] + frac * BURDEN_STEP_DAYS), o

    # -- the whole course --------------------------------------------------------------------
    def course(self, h: PatientHistory, rng: np.random.Generator) -> ClinicalOutcome:
        p, cov, c = self.p, h.covariates, h.colonies
        t_dx = h.primary.diagnosis_day
        ln_k = math.log(self.capacity)
        fold = h.plan.metastatic_growth_fold
        # untreated detection of each colony: growth-clock time to the organ's detection size
        need = -np.log1p(-np.log(self.detect_cells[c.organ]) / ln_k) / c.rate if len(c) else np.empty(0)
        untreated = c.founded + need
        m1 = bool(len(c) and untreated.min() <= t_dx)
        t_m = max(float(untreated.min()), t_dx) if len(c) else math.inf
        # detection under therapy from t_m on
        clock_found = self._clock(c.founded, t_m, fold)
        target = clock_found + need
        with np.errstate(divide="ignore", invalid="ignore"):
            detect = np.where(untreated <= t_m, np.maximum(untreated, t_dx),
                              t_m + (target - t_m) / fold if fold > 0 else np.inf)
        organ_death, organ_idx = self._organ_failure(h, t_dx, t_m)
        other = t_dx + self._other_death(cov.age, rng)
        ctc = int(rng.poisson(self._ctc_expected(h, t_dx)))
        death = min(organ_death, other)
        end = min(death, t_dx + self.horizon)
        seen = detect <= end
        pn, positive, examined, regional = self._nodes(h, t_dx)
        pt = t_category(cov.diameter_mm, t1_max=p["staging.t1_max_mm"], t2_max=p["staging.t2_max_mm"])
        m = "M1" if m1 else "M0"

        def endpoint(*event_times: float) -> tuple[float, bool]:
            t = min(event_times)
            return (t - t_dx, True) if t <= t_dx + self.horizon else (self.horizon, False)

        first_distant = float(detect[seen].min()) if seen.any() else math.inf
        os_days, os_event = endpoint(death)
        dmfs_days, dmfs_event = endpoint(first_distant, death)
        dfs_days, dfs_event = endpoint(first_distant, death, regional)
        idx = np.flatnonzero(seen)
        sizes = self._sizes(h, detect[idx], t_m, which=idx)
        lesions = [
            {"patient_id": h.patient_id, "organ": self.organs.names[c.organ[i]], "detection_day": float(detect[i] - t_dx),
             "size_mm": float(cells_to_diameter(s, self.per_mm3)), "clone": h.clone_names[c.clone[i]],
             "founded_day": float(c.founded[i] - t_dx), "origin": ORIGINS[c.origin[i]]}
            for i, s in zip(idx, sizes)
        ]
        window = p["followup.first_sites_window_days"]
        first_sites = sorted({les["organ"] for les in lesions if les["detection_day"] <= first_distant - t_dx + window})
        all_sites = sorted({les["organ"] for les in lesions})
        if os_event:
            cause = f"organ_failure:{self.organs.names[organ_idx]}" if organ_death <= other else "other_causes"
        else:
            cause = ""
        row = {
            "patient_id": h.patient_id, "subtype": cov.subtype, "histology": "ilc" if cov.lobular else "idc",
            "er": cov.er, "pr": cov.pr, "her2": cov.her2, "age_at_diagnosis": cov.age,
            "tumor_size_mm": cov.diameter_mm, "grade": cov.grade, "tmem_score": cov.tmem_score,
            "positive_nodes": positive, "nodes_examined": examined, "pT": pt, "pN": pn, "M": m,
            "stage": stage_group(pt, pn, m),
            "dfs_days": dfs_days, "dfs_event": dfs_event, "dmfs_days": dmfs_days, "dmfs_event": dmfs_event,
            "os_days": os_days, "os_event": os_event, "death_cause": cause,
            "first_metastasis_sites": ";".join(first_sites), "metastasis_sites": ";".join(all_sites),
            "regional_recurrence_day": (regional - t_dx) if regional <= end else math.nan,
            "n_colonies": len(c),
            "ctc_7_5ml": ctc,
        }
        detected = np.bincount(c.organ[idx], minlength=len(self.organs.names)) if len(idx) else np.zeros(len(self.organs.names), int)
        return ClinicalOutcome(row=row, lesions=lesions, detected_by_organ=detected)
