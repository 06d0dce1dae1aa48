"""From biological histories to patients, for a block at once: surgery and staging, the
treatment plan, adjuvant therapy on every growth it reaches (:mod:`seedsoil.clinic.clock`),
local and regional disease left after surgery, detection of metastases, metastatic lines of
therapy, death from organ dysfunction or other causes, and the trial endpoints.

Endpoints follow STEEP (Hudis et al. 2007 J Clin Oncol 25:2127): DFS counts local and regional
recurrence, distant metastasis and death from any cause; DMFS counts distant metastasis and death; OS death.
All patient-facing times are days from diagnosis (= surgery), censored at the follow-up horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from seedsoil.biology import cascade
from seedsoil.biology.cascade import DAYS_PER_YEAR
from seedsoil.biology import bone as bone_model
from seedsoil.biology.growth import Gompertz, WarpedGompertz, cells_to_diameter, diameter_to_cells
from seedsoil.biology.organs import SYMPTOMS, OrganTable
from seedsoil.biology.therapy import norton_simon_log_kill
from seedsoil.clinic.clock import Clock
from seedsoil.clinic.guideline import REGIMENS, WORKUP_SKIPS, TreatmentPlan, assign, line_regimens
from seedsoil.clinic.records import ClinicalBlock, CtcDrawRecords, Labels, LesionRecords, PatientRecords
from seedsoil.clinic.staging import (M_CATEGORIES, N_CATEGORIES, STAGE_GROUPS, STAGE_TABLE, T_CATEGORIES, n_codes,
                                     t_codes)
from seedsoil.engine.adjuvant import AdjuvantExposure
from seedsoil.engine.history import METASTATIC, ORGAN_COLUMNS, ORIGINS, CohortHistory, Colonies, stage
from seedsoil.engine.sampling import poisson_from_uniform
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.params import ParameterSet
from seedsoil.scenario import HISTOLOGIES, SUBTYPES, SURGERIES, ScenarioError, Treatment
from seedsoil.scenario.load import _MISSING

MENOPAUSAL = ("pre", "post")

FAILURE_SEARCH_YEARS = 40.0
"""Death from organ dysfunction is followed for this many years from the first metastasis (the
longest follow-up a scenario allows), whatever the follow-up, so a shorter one only censors earlier."""


def _segment_min(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Per group 0..n-1, the smallest value (inf for empty groups)."""
    out = np.full(n, np.inf)
    np.minimum.at(out, groups, values)
    return out


def _joined_labels(mask: np.ndarray, words: list[str], sep: str) -> Labels:
    """Labels from per-patient bit masks over ``words`` (bit i = words[i]), joined by ``sep``."""
    uniq, inv = np.unique(mask, return_inverse=True)
    return Labels(inv.astype(np.int64), tuple(sep.join(w for i, w in enumerate(words) if m >> i & 1) for m in uniq))


def _site_strings(rows: np.ndarray, organs: np.ndarray, n: int, names: tuple[str, ...]) -> Labels:
    """Per patient, the ';'-joined alphabetical names of the organs listed for her ('' if none)."""
    words = sorted(names)
    bit = np.array([1 << words.index(o) for o in names], dtype=np.int64)
    mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(mask, rows, bit[organs])
    return _joined_labels(mask, words, ";")


def _symptom_strings(rows: np.ndarray, organs: np.ndarray, sre_kind: np.ndarray, n: int,
                     names: tuple[str, ...]) -> Labels:
    """Per patient, the '; '-joined alphabetical symptoms of her detected metastases' organs
    (:data:`seedsoil.biology.organs.SYMPTOMS`) and of her first skeletal-related event ('' if none)."""
    sre_symptoms = tuple(e.replace("_", " ") for e in SKELETAL_EVENTS)
    words = sorted({s for o in names for s in SYMPTOMS[o]} | set(sre_symptoms))
    organ_mask = np.array([sum(1 << words.index(s) for s in set(SYMPTOMS[o])) for o in names], dtype=np.int64)
    mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(mask, rows, organ_mask[organs])
    sre_bits = np.array([1 << words.index(s) for s in sre_symptoms] + [0], dtype=np.int64)
    mask |= sre_bits[np.where(sre_kind >= 0, sre_kind, len(sre_symptoms))]
    return _joined_labels(mask, words, "; ")


def rank_in_group(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each item's 0-based rank within its group, in the order ``order`` (which sorts ``groups``)."""
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]]
    pos = np.arange(len(order))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = pos - np.maximum.accumulate(np.where(first, pos, 0))
    return rank


MAX_LINE_DRAWS = 12
"""Normal draws per patient for the resistant shares of her metastatic lines (the most lines any
era allows): a fixed number per block row, so a patient's draws do not depend on the others."""
BURDEN_GRID = 96
"""Time points (geometric from the first metastasis over :data:`FAILURE_SEARCH_YEARS`) on which
the metastatic burden and the death hazard are evaluated."""
BURDEN_GRID_FIRST_DAY = 1.0
"""First positive point of the burden grid (days after the first metastasis)."""
PRESENTATION_OFFSET_DAYS = 1e-6
"""The burden at presentation is read just before the first line's kill (days)."""
SEEDING_ROUTES = ("venous", "arterial", "pleural", "lymphatic")
"""How metastases seed metastases (:meth:`Clinic._seeding_rates`): blood from metastases outside the
lung (lung capillaries first), blood from lung metastases (arterial), lung metastases growing into
the pleura, lymph to the distant nodes."""
SILENT_SEEDING_GRID_STEP = 3
"""The burden before the first detection is read on every third point of the burden grid, mirrored
back from it (dense near the detection, where most cell-days are)."""
BRAIN_LOCAL_AFTER_LINES = 2
"""Local treatments of brain metastases that appear after a patient's last systemic line (repeated
radiosurgery or whole-brain radiotherapy): at most this many rounds."""
MAX_SECONDARY_SEEDS = 32
"""Most colonies metastases seed in one patient (the default cohort's expectation is about 0.1
per relapsed patient; the ``small`` scenario's, with the soil's hostility lifted, about 2)."""
BURDEN_COLONIES = 16
"""Colonies per (patient, organ) the clinic follows (therapy, detection, burden): the oldest ones,
which are the largest (a patient's colonies in one organ grow by one law) and so the first found
and the bulk of the burden. A patient with more (widespread disease: 85% of the default cohort's
colonies belong to such patients) has at most this many lesions per organ in lesions.parquet,
as a radiologist stops counting; ``n_colonies`` still counts them all."""

SRE_THRESHOLDS = ("radiotherapy", "fracture", "cord_compression")
"""Skeletal-related events in order of their bone-mass thresholds (``bone.sre.<kind>_mass``)."""
SKELETAL_EVENTS = ("radiotherapy_to_bone", "pathological_fracture", "spinal_cord_compression")

# adjuvant events on a patient's timeline (boundaries of the therapy clock)
SURGERY, CHEMO_END, HER2_END, TKI_END, ENDO_START, ENDO_END, BONE_START, RT = range(8)


def _segment_max_index(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Per group, the index of its largest value (-1 for empty groups)."""
    out = np.full(n, -1)
    if len(values):
        order = np.lexsort((values, groups))
        last = np.r_[groups[order][1:] != groups[order][:-1], True]
        out[groups[order][last]] = order[last]
    return out


class Clinic:
    """Applies the clinical rules of a parameter set and a scenario's treatment table to blocks
    of histories (one per run): :meth:`stage` and :meth:`plan` at surgery, :meth:`exposure` for
    the engine's after-surgery step, then :meth:`course`."""

    def __init__(self, params: ParameterSet, organs: OrganTable, follow_up_years: float,
                 treatment: Treatment | None = None, ctc_draw_days: tuple[float, ...] = ()):
        self.p, self.organs = params, organs
        self.ctc_draw_days = np.asarray(ctc_draw_days, dtype=float)
        self.treatment = treatment if treatment is not None else Treatment()
        self.horizon = follow_up_years * DAYS_PER_YEAR
        self.capacity = params["growth.carrying_capacity_cells"]
        self.per_mm3 = params["cells.per_mm3"]
        self.detect_cells = diameter_to_cells(organs.detection_mm, self.per_mm3)
        imaged = ~np.isin(organs.names, WORKUP_SKIPS)
        # the work-up images at staging.workup_detection_fold x the detection diameter; a skipped organ
        # is found at diagnosis only with symptoms (its detection size), at relapse on its own clock
        self.workup_cells = np.where(imaged, diameter_to_cells(
            organs.detection_mm * params["staging.workup_detection_fold"], self.per_mm3), self.detect_cells)
        self.relapse_workup_cells = np.where(imaged, self.workup_cells, np.inf)
        self.node_clinical_cells = float(diameter_to_cells(params["nodes.clinical_detection_mm"], self.per_mm3))
        self.brain, self.bone = organs.names.index("brain"), organs.names.index("bone")
        g = np.geomspace(BURDEN_GRID_FIRST_DAY, FAILURE_SEARCH_YEARS * DAYS_PER_YEAR, BURDEN_GRID - 1)
        self.grid = np.r_[0.0, g]
        self._rates: np.ndarray | None = None
        self._blood: tuple | None = None  # (trait table, blood entry per key and clone)
        self._bone: dict[tuple[float, str], bone_model.LesionTable] = {}
        self._warp_levels: list[float] = []  # PTHrP level of each warp table, in order (only appended)
        self._warp_tables: tuple = ()
        self._pthrp_levels: np.ndarray | None = None

    # -- growth laws -----------------------------------------------------------------------------
    def bone_table(self, pthrp: float, drug: str = "none") -> bone_model.LesionTable:
        """The tabulated course of a bone lesion of this PTHrP level (solved once per run)."""
        key = (round(float(pthrp), 9), drug)
        if key not in self._bone:
            try:
                self._bone[key] = bone_model.lesion_table(self.p, key[0], drug)
            except bone_model.BoneModelError as err:
                raise bone_model_refusal(self.p, err) from None
        return self._bone[key]

    def _pthrp(self, h: CohortHistory, row: np.ndarray, clone: np.ndarray) -> np.ndarray:
        """PTHrP level of each (patient row, clone), rounded as the bone tables are keyed."""
        if self._pthrp_levels is None:  # one trait table per run, as for the seeding rates
            table = h.traits
            self._pthrp_levels = np.round(np.stack([table.per_key(k, lambda t: t.pthrp)
                                                    for k in range(len(table.clone_names))], axis=1), 9)
        return self._pthrp_levels[h.covariates.trait_key[row], clone]

    def colony_law(self, h: CohortHistory, c: Colonies) -> WarpedGompertz:
        """Colonies' untreated laws: Gompertz at their rate, bone colonies on their PTHrP level's
        vicious-cycle clock (:func:`seedsoil.biology.bone.lesion_table`)."""
        warp = np.full(len(c), -1, dtype=np.int64)
        bone = np.flatnonzero(c.organ == self.bone)
        if bone.size:
            levels = self._pthrp(h, c.row[bone], c.clone[bone])
            for lv in np.unique(levels):
                if lv not in self._warp_levels:
                    self._warp_levels.append(float(lv))
                    self._warp_tables += (self.bone_table(lv).warp(),)
                warp[bone[levels == lv]] = self._warp_levels.index(float(lv))
        return WarpedGompertz(rate=np.asarray(c.rate, dtype=float), capacity=self.capacity, warp=warp,
                              tables=self._warp_tables, reference_rate=self.p["bone.reference_growth_rate_per_day"])

    # -- at surgery ------------------------------------------------------------------------------
    def stage(self, h: CohortHistory) -> Staging:
        """Pathological stage at surgery and metastases detectable then (before any therapy): the
        staging work-up images women with a tumour beyond T2 or clinically positive nodes (ESMO
        early breast cancer guidelines, Cardoso et al. 2019 Ann Oncol 30:1194; NCCN: no systemic
        imaging for asymptomatic stage I-II); in the others a metastasis is found at diagnosis only
        at its organ's detection (symptomatic) size."""
        p, c, n = self.p, h.colonies, len(h)
        t_dx = h.primary.diagnosis_day
        dep_cells = self._deposit_cells(h, t_dx)
        pn, positive, examined, left, clinical = self._nodes(h, dep_cells)
        imaged = (h.covariates.diameter_mm > p["staging.t2_max_mm"]) | clinical
        found_at = self.colony_law(h, c).time_to(self._staging_cells(imaged, c))
        m1 = _segment_min(c.founded + found_at, c.row, n) <= t_dx
        pt = t_codes(h.covariates.diameter_mm, t1_max=p["staging.t1_max_mm"], t2_max=p["staging.t2_max_mm"])
        return Staging(pt=pt, pn=pn, positive=positive, examined=examined, m1=m1, deposit_left=left,
                       deposit_cells=dep_cells, imaged=imaged)

    def _staging_cells(self, imaged: np.ndarray, c: Colonies) -> np.ndarray:
        """Size at which the staging at diagnosis finds each colony: the work-up's in an imaged
        patient (``imaged``, per patient), else its organ's detection (symptomatic) size."""
        return np.where(imaged[c.row], self.workup_cells[c.organ], self.detect_cells[c.organ])

    def plan(self, h: CohortHistory, st: Staging) -> TreatmentPlan:
        return assign(h.covariates, st.positive, st.m1, self.treatment, self.p)

    def _timeline(self, h: CohortHistory, plan: TreatmentPlan) -> np.ndarray:
        """Absolute days of each adjuvant event (patients, 8), in the order of the event codes;
        an absent therapy's events fall on the day of surgery (zero-length windows)."""
        p, t0 = self.p, h.primary.diagnosis_day
        a0 = t0 + p["treatment.start_days"]
        chemo_end = np.where(plan.chemotherapy, a0 + p["treatment.chemo_days"], t0)
        her2_end = np.where(plan.anti_her2, a0 + p["treatment.anti_her2_days"], t0)
        tki_start = np.where(plan.anti_her2, her2_end, a0)
        tki_end = np.where(plan.her2_tki, tki_start + p["treatment.her2_tki_days"], t0)
        endo_start = np.where(plan.endocrine, np.where(plan.chemotherapy, chemo_end, a0), t0)
        endo_end = np.where(plan.endocrine, endo_start + plan.endocrine_years * DAYS_PER_YEAR, t0)
        bone_start = np.where(plan.bone_agent, a0, t0)
        rt = np.where(plan.radiotherapy, np.where(plan.chemotherapy, chemo_end, a0), t0)
        return np.stack([t0, chemo_end, her2_end, tki_end, endo_start, endo_end, bone_start, rt], axis=1)

    def _bone_fold(self, h: CohortHistory, plan: TreatmentPlan) -> np.ndarray:
        """Per patient, the probability that a bone seed still grows while a bone agent is given."""
        p = self.p
        effect = np.where(h.covariates.postmenopausal, 1.0, p["treatment.bone_agent_premenopausal_effect"])
        return np.where(plan.bone_agent, 1.0 - effect * (1.0 - p["treatment.bone_agent_fold"]), 1.0)

    def exposure(self, h: CohortHistory, plan: TreatmentPlan) -> AdjuvantExposure:
        """What adjuvant therapy does to the dormant cells (days from surgery)."""
        p, t0 = self.p, h.primary.diagnosis_day
        tl = self._timeline(h, plan)
        er = h.covariates.er
        return AdjuvantExposure(
            endocrine_days=np.where(plan.endocrine & er, tl[:, ENDO_END] - t0, 0.0),
            awakening_fold=np.where(plan.endocrine & er, p["treatment.endocrine_awakening_fold"], 1.0),
            bone_days=np.where(plan.bone_agent, p["treatment.start_days"] + p["treatment.bone_agent_days"], 0.0),
            bone_fold=self._bone_fold(h, plan),
            death_fold=np.where(plan.endocrine & er, p["treatment.endocrine_dormant_death_fold"], 1.0))

    # -- the therapy clock -----------------------------------------------------------------------
    def _adjuvant_clock(self, h: CohortHistory, plan: TreatmentPlan, rows: np.ndarray, law: Gompertz,
                        founded: np.ndarray, luck: np.ndarray, organ: np.ndarray | None, kind: str,
                        stop: np.ndarray) -> Clock:
        """The clock of growths of patients ``rows`` under adjuvant therapy until ``stop`` (per
        patient: relapse ends adjuvant therapy); ``organ`` for colonies (None for deposits and
        residual foci), ``kind`` one of "colony", "deposit", "residual"."""
        p = self.p
        tl = self._timeline(h, plan)
        planned = tl.copy()
        tl = np.minimum(tl, stop[:, None])
        order = np.argsort(tl, axis=1, kind="stable")
        times = np.take_along_axis(tl, order, axis=1)[rows]
        events = order[rows]
        orig = np.take_along_axis(planned, order, axis=1)[rows]
        given = np.stack([np.ones(len(plan), dtype=bool), plan.chemotherapy, plan.anti_her2, plan.her2_tki,
                          plan.endocrine, plan.endocrine, plan.bone_agent, plan.radiotherapy], axis=1)
        given = np.take_along_axis(given, order, axis=1)[rows]
        live = given & (orig <= stop[rows][:, None])  # therapies given, and planned before relapse
        n_items = len(rows)
        T = np.concatenate([np.full((n_items, 1), -np.inf), times], axis=1)
        ev = np.concatenate([np.full((n_items, 1), -1), events], axis=1)
        ok = np.concatenate([np.zeros((n_items, 1), dtype=bool), live], axis=1)
        endo_on = (T >= tl[rows, ENDO_START][:, None]) & (T < tl[rows, ENDO_END][:, None]) \
            & h.covariates.er[rows][:, None]
        S = np.where(endo_on, p["treatment.endocrine_growth_fold"], 1.0)
        brain = np.zeros(n_items, dtype=bool) if organ is None else organ == self.brain
        bone = np.zeros(n_items, dtype=bool) if organ is None else organ == self.bone
        cap = law.capacity
        chemo_pen = np.where(brain, p["treatment.chemo_brain_penetration"], 1.0)
        her2_pen = np.where(brain, p["treatment.anti_her2_brain_penetration"], 1.0)
        tki_pen = np.where(brain, p["treatment.her2_tki_brain_penetration"], 1.0)
        bone_fold = self._bone_fold(h, plan)[rows]
        er_item = h.covariates.er[rows]
        rt_kill = {"residual": p["treatment.radiotherapy_log_kill"],
                   "deposit": p["treatment.radiotherapy_axilla_log_kill"]}.get(kind, 0.0)

        growth_kills = {  # event -> (kill ratio, days of the course, share reaching each growth)
            CHEMO_END: (p["treatment.chemo_kill_ratio"], p["treatment.chemo_days"], chemo_pen),
            HER2_END: (p["treatment.anti_her2_kill_ratio"], p["treatment.anti_her2_days"], her2_pen),
            TKI_END: (p["treatment.her2_tki_kill_ratio"], p["treatment.her2_tki_days"], tki_pen),
            ENDO_START: (p["treatment.endocrine_kill_ratio"], p["treatment.endocrine_response_days"],
                         er_item.astype(float)),
        }

        def kill(k, cells, alive):
            e, go = ev[:, k], ok[:, k] & alive
            log_kill = np.zeros(n_items)
            extra = np.ones(n_items)
            for event, (ratio, days, reach) in growth_kills.items():
                m = np.flatnonzero(go & (e == event))
                if m.size:
                    log_kill[m] = norton_simon_log_kill(np.asarray(law.rate)[m], cells[m], cap, ratio, days) * reach[m]
            log_kill[go & (e == RT)] = rt_kill
            m = go & (e == BONE_START) & bone & (cells < p["treatment.bone_agent_vulnerable_cells"])
            extra[m] = bone_fold[m]
            return log_kill, extra

        return Clock.build(law, founded, luck, T, S, kill)

    def _restaged(self, clock: Clock, c: Colonies, law, t_m: np.ndarray) -> np.ndarray:
        """Colonies the staging work-up at the first distant relapse finds: the same imaging as at
        diagnosis (``staging.workup_detection_fold`` x their organ's detection diameter) on that day
        (just before the first line acts), in an organ it images (not the brain:
        :data:`~seedsoil.clinic.guideline.WORKUP_SKIPS`)."""
        t = t_m[c.row]
        out = np.zeros(len(c), dtype=bool)
        idx = np.flatnonzero(np.isfinite(t) & np.isfinite(self.relapse_workup_cells[c.organ]))
        if idx.size:
            age = clock.take(idx).age_at(np.nextafter(t[idx], -np.inf))
            out[idx] = (age >= 0) & (age >= law.take(idx).time_to(self.relapse_workup_cells[c.organ[idx]]))
        return out

    def _lines(self, h: CohortHistory, plan: TreatmentPlan, clock: Clock, rows: np.ndarray, organ: np.ndarray,
               t_m: np.ndarray, z: np.ndarray, speed: np.ndarray | None = None) -> np.ndarray:
        """Metastatic lines from ``t_m``: each kills the sensitive cells of every colony it reaches
        (a resistant share survives), brain metastases found by its start, or as they appear on it or
        after the last line, are also treated locally (``metastatic.brain_local_log_kill.<era>``),
        and it lasts until the largest reachable colony has regrown to its size at the line's
        start or a new lesion appears outside the brain (:meth:`_new_lesion`), or at least until
        the first assessment. Returns each
        patient's line start days (patients, max lines; inf where none)."""
        p, n = self.p, len(h)
        era = plan.era
        max_lines = int(p[f"metastatic.max_lines.{era}"])
        cov = h.covariates
        regimens = line_regimens(era, cov.er | cov.pr, cov.her2, max_lines)
        median = np.array([p[f"metastatic.resistant_fraction.{r}.{era}"]
                           if f"metastatic.resistant_fraction.{r}.{era}" in p else 1.0 for r in REGIMENS])
        starts = np.full((n, max_lines), np.inf)
        t = np.where(plan.metastatic & np.isfinite(t_m), t_m, np.inf)
        brain = organ == self.brain
        pen = np.ones((len(REGIMENS), len(organ)))
        pen[REGIMENS.index("chemo")] = np.where(brain, p["treatment.chemo_brain_penetration"], 1.0)
        pen[REGIMENS.index("anti_her2")] = np.where(brain, p["metastatic.anti_her2_brain_penetration"], 1.0)
        end = t_m + FAILURE_SEARCH_YEARS * DAYS_PER_YEAR
        local_kill = p[f"metastatic.brain_local_log_kill.{era}"]
        step = np.ones(len(rows)) if speed is None else speed
        a_detect = clock.law.time_to(self.detect_cells[organ])  # age at its organ's detection size
        for k in range(max_lines):
            reg = regimens[:, k]
            active = (reg >= 0) & (t < end)
            t = np.where(active, t, np.inf)
            if not active.any():
                break
            starts[:, k] = t
            phi = np.minimum(median[np.maximum(reg, 0)] * p["metastatic.resistance_fold_per_line"] ** k
                             * np.exp(p["metastatic.resistant_fraction_log_sd"] * z[:, k]), 1.0)
            item_pen = pen[np.maximum(reg, 0)[rows], np.arange(len(rows))]
            log_kill = -np.log(phi)[rows] * item_pen
            before = clock.age_at(t[rows])
            size = clock.law.size(np.maximum(before, 0.0))
            big = (before >= 0) & (size >= self.detect_cells[organ])
            # brain metastases found by then also get local treatment (surgery, radiosurgery, WBRT)
            found = brain & big
            log_kill = log_kill + np.where(found, local_kill, 0.0)
            clock.extend(t[rows], step, lambda _k, cells, alive: (np.where(alive, log_kill, 0.0),
                                                                                  np.ones(len(rows))))
            after = np.where(clock.dead <= t[rows], 0.0, clock.A[:, -1])
            reach = (item_pen > 0) & (before >= 0)
            idx = _segment_max_index(np.where(reach, size, -1.0), rows, n)
            j = np.maximum(idx, 0)
            drop = np.where((idx >= 0) & reach[j], before[j] - after[j], 0.0)
            t = t + np.maximum(p["metastatic.evaluation_days"], drop)
            # a new lesion outside the brain is progression too, however the largest one fares
            t = np.minimum(t, np.maximum(starts[:, k] + p["metastatic.evaluation_days"],
                                         self._new_lesion(clock, rows, organ, ~big, a_detect, starts[:, k], n)))
            self._brain_local(clock, rows, brain, starts[rows, k], t, local_kill)
        # brain metastases that appear after the last line are still treated locally
        for _ in range(BRAIN_LOCAL_AFTER_LINES):
            last = np.where(np.isfinite(starts[:, 0])[rows], clock.T[:, -1], np.inf)
            self._brain_local(clock, rows, brain, last, end, local_kill)
        return starts

    def _new_lesion(self, clock: Clock, rows: np.ndarray, organ: np.ndarray, small: np.ndarray,
                    a_detect: np.ndarray, start: np.ndarray, n: int) -> np.ndarray:
        """Per patient, the first day after a line's ``start`` on which a colony outside the brain that
        was below its organ's detection size then (or not yet founded) reaches it: a new lesion,
        progression by RECIST 1.1 (Eisenhauer et al. 2009 Eur J Cancer 45:228; in the 1990 era by
        the WHO criteria, Miller et al. 1981 Cancer 47:207) however the index lesion fares; inf if
        none. New brain lesions are treated locally and the line goes on (:meth:`_brain_local`;
        ESMO ABC 5, Cardoso et al. 2020). ``small``: each colony below its detection size (or not
        yet founded) at the start; ``a_detect``: its age at that size."""
        idx = np.flatnonzero(small & (organ != self.brain) & np.isfinite(start[rows]))
        if not idx.size:
            return np.full(n, np.inf)
        d = clock.take(idx).first_reach(a_detect[idx], after=start[rows[idx]])
        return _segment_min(d, rows[idx], n)

    def _brain_local(self, clock: Clock, rows: np.ndarray, brain: np.ndarray, after: np.ndarray,
                     before: np.ndarray, log_kill: float) -> None:
        """Local treatment (surgery, radiosurgery, whole-brain radiotherapy: natural-log kill
        ``log_kill``) of each brain metastasis on the day it is found (reaches the brain's detection
        size) after ``after`` (absolute days per growth) and before ``before`` (per patient): a
        symptomatic brain metastasis is treated when it appears (ESMO ABC 5, Cardoso et al. 2020
        Ann Oncol 31:1623), not at the next line."""
        idx = np.flatnonzero(brain & np.isfinite(after))
        if not idx.size:
            return
        sub = clock.take(idx)
        d = sub.first_reach(sub.law.time_to(self.detect_cells[self.brain]), after=after[idx])
        hit = d < before[rows[idx]]
        if not hit.any():
            return
        when = clock.T[:, -1].copy()  # the others get an empty boundary on their last one
        when[idx[hit]] = d[hit]
        treat = np.zeros(len(rows), dtype=bool)
        treat[idx[hit]] = True
        clock.extend(when, clock.S[:, -1].copy(), lambda _k, cells, alive: (np.where(treat & alive, log_kill, 0.0),
                                                                             np.ones(len(rows))))

    # -- bone: the metastatic bone agent and skeletal-related events ------------------------------
    def _metastatic_bone_agent(self, h: CohortHistory, plan: TreatmentPlan, clock: Clock, c: Colonies,
                               t_m: np.ndarray, detect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Who receives the era's bone agent for bone metastases (a bone lesion found at the first
        relapse, with metastatic therapy), and each colony's growth speed from then on (bone colonies grow
        slower as the agent cuts the TGF-beta they draw from resorption; others 1)."""
        n, speed = len(h), np.ones(len(c))
        treated = np.zeros(n, dtype=bool)
        if plan.bone_drug == "none" or not len(c):
            return treated, speed
        bone = c.organ == self.bone
        first = bone & np.isfinite(t_m[c.row]) & (detect <= t_m[c.row])  # found at the first relapse's work-up
        treated[c.row[first]] = True
        treated &= plan.metastatic
        items = np.flatnonzero(bone & treated[c.row])
        if items.size:
            size = clock.take(items).cells_at(t_m[c.row[items]])
            level = self._pthrp(h, c.row[items], c.clone[items])
            for lv in np.unique(level):
                m = level == lv
                speed[items[m]] = (self.bone_table(lv, plan.bone_drug).speed(size[m])
                                   / self.bone_table(lv).speed(size[m]))
        return treated, speed

    def _skeletal_events(self, h: CohortHistory, clock: Clock, c: Colonies, t_m: np.ndarray, treated: np.ndarray,
                         drug: str, detect: np.ndarray, end: np.ndarray, u_vertebral: np.ndarray,
                         u_sre: np.ndarray):
        """First skeletal-related event per patient (absolute day or inf, kind index or -1): a bone
        lesion's local bone mass (its tabulated course, :mod:`seedsoil.biology.bone`) falls below
        the radiotherapy, fracture or (in a vertebra) cord-compression threshold. Under the bone
        agent the bone left at its start is lost at the treated course's pace. An event before
        the lesion is found presents with it (on its detection day). Before any threshold, each
        found lesion adds a constant hazard of a pathological fracture from its detection
        (``bone.sre.lesion_hazard_per_day``, the same on a bone agent: the agent acts on the lesion's
        course; the first by inversion of ``u_sre``)."""
        p, n = self.p, len(h)
        day, kind = np.full(n, np.inf), np.full(n, -1)
        items = np.flatnonzero(c.organ == self.bone)
        if not items.size:
            return day, kind
        rows = c.row[items]
        rank = rank_in_group(rows, np.lexsort((items, rows)))
        vertebral = u_vertebral[rows, np.minimum(rank, u_vertebral.shape[1] - 1)] < p["bone.sre.vertebral_share"]
        thr = np.array([p[f"bone.sre.{k}_mass"] for k in SRE_THRESHOLDS])
        sub = clock.take(items)
        size0 = sub.cells_at(t_m[rows])
        level = self._pthrp(h, rows, c.clone[items])
        on = treated[rows]
        need = np.empty((len(items), len(thr)))
        for lv in np.unique(level):
            m = level == lv
            untreated = self.bone_table(lv)
            need[m] = untreated.cells_at_mass(thr)[None, :]
            mm = m & on
            if drug != "none" and mm.any():
                agent = self.bone_table(lv, drug)
                z_u, z_a = untreated.mass_at(size0[mm])[:, None], agent.mass_at(size0[mm])[:, None]
                later = agent.cells_at_mass(z_a - (z_u - thr[None, :]))
                need[mm] = np.where(z_u > thr[None, :], np.maximum(later, size0[mm][:, None]), need[mm])
        need[:, SRE_THRESHOLDS.index("cord_compression")] = np.where(
            vertebral, need[:, SRE_THRESHOLDS.index("cord_compression")], np.inf)
        when = np.stack([sub.first_reach(sub.law.time_to(need[:, j])) for j in range(len(thr))], axis=1)
        when = np.maximum(when, detect[items][:, None])
        when = np.where(when <= end[rows][:, None], when, np.inf)
        j = when.argmin(axis=1)
        t = when[np.arange(len(items)), j]
        day = _segment_min(t, rows, n)
        best = _segment_max_index(-t, rows, n)
        kind = np.where(np.isfinite(day), j[np.maximum(best, 0)], -1)
        # a found bone lesion can break before its bone mass crosses a threshold (weakened bone under
        # everyday load; Mirels 1989 scores a probability): a constant hazard per found lesion from
        # its detection, summed over her lesions
        found = detect[items] <= end[rows]
        hazard = np.bincount(rows, found.astype(float), n) * p["bone.sre.lesion_hazard_per_day"]
        start = _segment_min(np.where(found, detect[items], np.inf), rows, n)
        with np.errstate(divide="ignore"):  # no found lesion: zero hazard, no event
            chance = start - np.log(u_sre) / hazard
        earlier = (chance < day) & (chance <= end)
        day = np.where(earlier, chance, day)
        kind = np.where(earlier, SRE_THRESHOLDS.index("fracture"), kind)
        return day, kind

    # -- pieces ----------------------------------------------------------------------------------
    def _deposit_cells(self, h: CohortHistory, t: np.ndarray) -> np.ndarray:
        """Cells in each axillary deposit at its patient's day ``t`` (0 if not yet founded)."""
        d = h.deposits
        law = Gompertz(rate=d.rate, capacity=self.p["nodes.capacity_cells"])
        age = t[d.row] - d.founded
        return np.where(age >= 0, law.size(age), 0.0)

    def _nodes(self, h: CohortHistory, deposit_cells: np.ndarray):
        """Surgery on the axilla: sentinel biopsy, completion dissection when needed; pN codes,
        positive and examined node counts, which deposits stay in undissected nodes, and which
        patients have clinically positive nodes."""
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
        return pn, positive, examined, ~removed[d.row, d.node], clinical

    def _ctc_expected(self, h: CohortHistory, deposit_cells: np.ndarray, metastasis_cells: np.ndarray,
                      primary_cells: np.ndarray | None = None) -> np.ndarray:
        """Expected CTC units in one blood draw: primary (through TMEM doorways; at diagnosis
        unless ``primary_cells`` says what is left of it), axillary deposits (cells per deposit)
        and distant metastases (cells per patient), at steady state with the patient CTC
        half-life (Meng et al. 2004)."""
        p, cov, table = self.p, h.covariates, h.traits
        per_clone = self._blood_entry(table)
        key = cov.trait_key
        per_cell = (per_clone[key] * table.shares[None, :]).sum(axis=1)  # units per cell-day, reference TMEM
        primary = h.primary.diagnosis_cells if primary_cells is None else primary_cells
        rate = per_cell * cascade.tmem_factor(cov.tmem_score, p) * primary * cov.invasion
        d = h.deposits
        if len(d):
            nodal = deposit_cells * per_clone[key[d.row], d.clone] * p["dissemination.nodal_blood_fold"] * cov.invasion[d.row]
            rate = rate + np.bincount(d.row, nodal, len(h))
        mets = per_cell * metastasis_cells * p["dissemination.metastasis_blood_fold"]
        return cascade.circulating_units(rate + mets, p, p["circulation.ctc_sample_ml"])

    def _blood_entry(self, table) -> np.ndarray:
        """Units entering the blood per cell-day at the reference TMEM score, per trait combination
        and clone (keys, clones); computed once per trait table (one per run)."""
        if self._blood is None or self._blood[0] is not table:
            p, ref = self.p, self.p["tmem.reference_score"]
            self._blood = (table, np.stack([table.per_key(c, lambda t: cascade.shedding(t, ref, p).blood.sum())
                                            for c in range(len(table.clone_names))], axis=1))
        return self._blood[1]

    def _ctc_expected_after_surgery(self, h: CohortHistory, t: np.ndarray, clock: Clock, c: Colonies,
                                    dclock: Clock, left: np.ndarray, rclock: Clock, rr: np.ndarray) -> np.ndarray:
        """Expected CTC units in a draw on each patient's day ``t`` (absolute, after surgery): residual
        primary tissue, undissected nodal deposits and the metastases of that day (before any kill
        on that very day)."""
        n = len(h)
        ok = np.isfinite(t)
        t = np.where(ok, np.nextafter(t, -np.inf), 0.0)
        mets = np.bincount(c.row, clock.cells_at(t[c.row]), n) if len(c) else np.zeros(n)
        dep = np.zeros(len(h.deposits))
        dep[left] = dclock.cells_at(t[h.deposits.row[left]])
        residual = np.zeros(n)
        residual[rr] = rclock.cells_at(t[rr])
        return np.where(ok, self._ctc_expected(h, dep, mets, residual), 0.0)

    def _ctc_at_relapse(self, h: CohortHistory, first_distant: np.ndarray, t_dx: np.ndarray, end: np.ndarray,
                        at_dx: np.ndarray, clock: Clock, c: Colonies, dclock: Clock, left: np.ndarray, rclock: Clock,
                        rr: np.ndarray, u: np.ndarray) -> np.ndarray:
        """CTCs in a 7.5 mL draw on the day the first distant metastasis is found, before the first
        line (CellSearch baseline of new metastatic disease); at diagnosis for de novo stage IV;
        NaN without a distant relapse in follow-up."""
        seen = np.isfinite(first_distant) & (first_distant <= end)
        when = np.where(seen, first_distant, np.inf)
        mean = np.where(when <= t_dx, at_dx, self._ctc_expected_after_surgery(h, when, clock, c, dclock, left,
                                                                                rclock, rr))
        return np.where(seen, poisson_from_uniform(u, mean), np.nan)

    def _ctc_draws(self, h: CohortHistory, t_dx: np.ndarray, end: np.ndarray, at_dx: np.ndarray, clock: Clock,
                   c: Colonies, dclock: Clock, left: np.ndarray, rclock: Clock, rr: np.ndarray,
                   u: np.ndarray) -> CtcDrawRecords:
        """CTC counts of the blood draws on :attr:`ctc_draw_days` of each patient alive and followed
        then: day 0 is the draw at diagnosis (``at_dx``, its expected load), later days see what
        surgery left (residual primary tissue, undissected nodal deposits) and the metastases of that
        day; Poisson around the expected load (``u``: one uniform per patient and draw)."""
        days = self.ctc_draw_days
        t = t_dx[:, None] + days[None, :]  # (patients, draws)
        mean = np.stack([at_dx if day == 0 else self._ctc_expected_after_surgery(h, t[:, j], clock, c, dclock, left,
                                                                                 rclock, rr)
                         for j, day in enumerate(days)], axis=1) if len(days) else np.empty((len(h), 0))
        rows, j = np.nonzero(t < end[:, None])  # row-major: by patient, then by day
        counts = poisson_from_uniform(u[rows, j], mean[rows, j])
        return CtcDrawRecords(patient_id=h.patient_id[rows].astype(np.int64), day=days[j],
                              ctc_7_5ml=np.asarray(counts, dtype=np.int64), expected_ctc=mean[rows, j])

    def _dtc_expected(self, h: CohortHistory) -> np.ndarray:
        """Expected disseminated tumour cells in one bone-marrow aspirate at diagnosis: the solitary
        cells dormant in bone at surgery, sampled at random with the counted cells' share of the
        marrow's mononuclear fraction, where density separation keeps them (``marrow.aspirate_cells``
        / (``marrow.total_nucleated_cells`` x ``marrow.mononuclear_share``))."""
        d = h.dormant
        bone = d.organ == self.bone
        cells = np.bincount(d.row[bone], d.count[bone].astype(float), len(h)) if bone.any() else np.zeros(len(h))
        return cells * self.p["marrow.aspirate_cells"] / (self.p["marrow.total_nucleated_cells"]
                                                          * self.p["marrow.mononuclear_share"])

    def _other_death(self, age: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Days from diagnosis to death from other causes (Gompertz mortality by age), by
        inversion of unit exponentials ``e``."""
        a, b = self.p["mortality.gompertz_a_per_year"], self.p["mortality.gompertz_b_per_year"]
        return np.log1p(e * b / (a * np.exp(b * age))) / b * DAYS_PER_YEAR

    def _burden_death(self, h: CohortHistory, clock: Clock, c: Colonies, t_m: np.ndarray, e: np.ndarray):
        """Death from organ dysfunction: hazard ``mortality.burden_hazard_per_day`` x the sum over
        organs of each organ's failure load (its way of killing: :func:`seedsoil.biology.organs.failure_load`
        of its burden and reserve), on a geometric grid from the first metastasis;
        inversion of unit exponentials ``e``. Returns (absolute day or inf, organ weighing most,
        patients followed, their burden by organ on the grid (patients, organs, grid))."""
        n, n_org = len(h), len(self.organs.names)
        when = np.full(n, np.inf)
        cause = np.full(n, -1)
        nothing = (when, cause, np.empty(0, dtype=np.int64), np.empty((0, n_org, len(self.grid))))
        if not len(c):
            return nothing
        idx = np.flatnonzero(np.isfinite(t_m[c.row]))
        if not idx.size:
            return nothing
        pts, inv = np.unique(c.row[idx], return_inverse=True)
        times = t_m[pts][:, None] + self.grid[None, :]  # (P, J)
        sub = clock.take(idx)
        seg = inv * n_org + c.organ[idx]
        burden = _by_patient_organ(sub.cells_at(times[inv]), seg, len(pts) * n_org)  # (P * O, J)
        found = np.bincount(seg, sub.cells_at(t_m[c.row[idx]] - PRESENTATION_OFFSET_DAYS), len(pts) * n_org)
        # an organ carried what was there when the metastases were found: its reserve is at least that
        reserve = np.maximum(np.tile(self.organs.tolerated_burden_cells, len(pts)),
                             found * self.p["mortality.presentation_reserve_fold"])
        # each organ's way of killing (biology.organs.failure_load), organ axis last: (P, J, O)
        load = self.organs.failure_load(burden.reshape(len(pts), n_org, -1).transpose(0, 2, 1),
                                        reserve.reshape(len(pts), 1, n_org))
        hazard = self.p["mortality.burden_hazard_per_day"] * load.sum(axis=2)  # (P, J)
        dt = np.diff(self.grid)
        cum = np.concatenate([np.zeros((len(pts), 1)), np.cumsum(0.5 * (hazard[:, 1:] + hazard[:, :-1]) * dt, axis=1)],
                             axis=1)
        target = e[pts]
        j = (cum < target[:, None]).sum(axis=1)  # first grid index with cum >= target
        hit = j < len(self.grid)
        jj = np.minimum(j, len(self.grid) - 1)
        lo = np.maximum(jj - 1, 0)
        c_lo, c_hi = cum[np.arange(len(pts)), lo], cum[np.arange(len(pts)), jj]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(c_hi > c_lo, (target - c_lo) / (c_hi - c_lo), 0.0)
        day = self.grid[lo] + np.clip(frac, 0.0, 1.0) * (self.grid[jj] - self.grid[lo])
        when[pts[hit]] = (t_m[pts] + day)[hit]
        cause[pts[hit]] = load[np.arange(len(pts)), jj, :].argmax(axis=1)[hit]
        return when, cause, pts, burden.reshape(len(pts), n_org, -1)

    def _seeding_rates(self, h: CohortHistory) -> np.ndarray:
        """Colonies founded per metastatic cell-day in each organ, per route (:data:`SEEDING_ROUTES`)
        and trait combination (routes, keys, organs). Through the blood: entry
        (``dissemination.metastasis_blood_fold`` x the reference TMEM shedding), then circulation,
        arrest, extravasation and direct progression, as for the primary's seeds; venous from
        metastases outside the lung (the lung's capillaries first), arterial from lung metastases
        (they shed into the pulmonary veins, so their cells reach the brain and the other organs
        without the lung filter, as in the intracardiac assay). Without the blood: lung metastases
        grow into the visceral pleura (``spread.lung_pleura_per_cell_day``) and metastases drain
        to the lymph nodes beyond the breast's (``spread.distant_nodes_per_cell_day``)."""
        if self._rates is None:
            p, table, organs = self.p, h.traits, self.organs
            fates = cascade.fate_shares(organs)[:, 1]
            bd = cascade.birth_death_survival(p)
            ref = p["tmem.reference_score"]
            routes = []
            for first_pass in ("lung", "none"):
                per_clone = []
                for c in range(len(table.clone_names)):
                    def one(t, first_pass=first_pass):
                        blood = cascade.shedding(t, ref, p).blood * cascade.circulation_survival(t, p)  # (2,)
                        prog = cascade.progression_prob(t, organs, p, 0.0) * bd  # (2, O)
                        arrest = cascade.arrest_distribution(t, organs, p, first_pass=first_pass)
                        return (blood[:, None] * arrest * prog).sum(axis=0) * cascade.extravasation(t, organs, p) * fates
                    per_clone.append(table.per_key(c, one))
                routes.append(np.einsum("c,cko->ko", table.shares, np.stack(per_clone))
                              * p["dissemination.metastasis_blood_fold"])
            keys = routes[0].shape[0]
            for organ, key in (("pleura", "spread.lung_pleura_per_cell_day"),
                               ("distant_nodes", "spread.distant_nodes_per_cell_day")):
                r = np.zeros((keys, len(organs.names)))
                r[:, organs.names.index(organ)] = p[key]
                routes.append(r)
            self._rates = np.stack(routes)
        return self._rates

    def _route_burden(self, burden: np.ndarray) -> np.ndarray:
        """Burden by organ (P, O, J) -> the burden each route (:data:`SEEDING_ROUTES`) carries
        (P, routes, J): outside the lung, in the lung, in the lung, outside the distant nodes."""
        names = self.organs.names
        in_lung = burden[:, names.index("lung"), :]
        total = burden.sum(axis=1)
        return np.stack([total - in_lung, in_lung, in_lung, total - burden[:, names.index("distant_nodes"), :]], axis=1)

    def _seeds_from_burden(self, h: CohortHistory, pts: np.ndarray, times: np.ndarray, burden: np.ndarray,
                           stop: np.ndarray, u_count: np.ndarray, u_when: np.ndarray, u_luck: np.ndarray) -> Colonies:
        """Colonies seeded by metastases of burden ``burden`` (P, routes, J: cells at ``times``, P x J
        absolute days, until ``stop``): per organ a Poisson count (intensity = each route's seeding
        rate x its cell-days, by inversion of ``u_count``), founding days by inversion of that
        organ's cumulative intensity (linear within grid cells), at most :data:`MAX_SECONDARY_SEEDS`
        per patient, each reading her own uniforms (so her draws do not depend on the block's other
        patients)."""
        if not len(pts):
            return Colonies()
        rates = self._seeding_rates(h)[:, h.covariates.trait_key[pts]].transpose(1, 0, 2)  # (P, routes, O)
        dt = np.clip(np.minimum(times[:, 1:], stop[:, None]) - times[:, :-1], 0.0, None)
        cum = np.concatenate([np.zeros(burden.shape[:2] + (1,)),
                              np.cumsum(0.5 * (burden[:, :, 1:] + burden[:, :, :-1]) * dt[:, None, :], axis=2)],
                             axis=2)  # cell-days (P, routes, J)
        counts = poisson_from_uniform(u_count[pts], (rates * cum[:, :, -1:]).sum(axis=1))  # (P, O)
        r, o = np.nonzero(counts)
        r, o = np.repeat(r, counts[r, o]), np.repeat(o, counts[r, o])
        slot = np.arange(r.size) - np.searchsorted(r, r)  # the patient's j-th seed (r is sorted)
        keep = slot < MAX_SECONDARY_SEEDS
        r, o, slot = r[keep], o[keep], slot[keep]
        if not r.size:
            return Colonies()
        row = pts[r]
        curve = np.einsum("sk,skj->sj", rates[r, :, o], cum[r])  # this organ's intensity (seeds, J)
        u = u_when[row, slot] * curve[:, -1]
        j = np.clip((curve < u[:, None]).sum(axis=1), 1, times.shape[1] - 1)
        s = np.arange(r.size)
        c0, c1 = curve[s, j - 1], curve[s, j]
        frac = np.where(c1 > c0, (u - c0) / np.maximum(c1 - c0, 1e-300), 0.0)
        founded = times[r, j - 1] + frac * (times[r, j] - times[r, j - 1])
        return Colonies(row=row, organ=o, clone=np.zeros(r.size, dtype=np.int64), founded=founded,
                        origin=np.full(r.size, METASTATIC), rate=h.primary.law.rate[row] * self.organs.growth_fold[o],
                        luck=u_luck[row, slot])

    def _seeds_before(self, h: CohortHistory, clock: Clock, c: Colonies, t_m: np.ndarray,
                      u_count: np.ndarray, u_when: np.ndarray, u_luck: np.ndarray) -> Colonies:
        """Colonies the metastases seed while they are still silent, from their founding to the
        first distant detection ``t_m`` (the burden on every :data:`SILENT_SEEDING_GRID_STEP`-th
        point of the burden grid, mirrored back from it). They join the colonies the clinic
        follows, so lines, local treatment and the death hazard act on them; one large enough to be
        found earlier is found at ``t_m``, by the work-up."""
        idx = np.flatnonzero(np.isfinite(t_m[c.row]))
        if not idx.size:
            return Colonies()
        pts, inv = np.unique(c.row[idx], return_inverse=True)
        back = self.grid[::SILENT_SEEDING_GRID_STEP][::-1]
        times = t_m[pts][:, None] - back[None, :]  # (P, J), increasing to t_m
        cells = clock.take(idx).cells_at(np.nextafter(times[inv], -np.inf))
        n_org = len(self.organs.names)
        burden = _by_patient_organ(cells, inv * n_org + c.organ[idx], len(pts) * n_org)
        return self._seeds_from_burden(h, pts, times, self._route_burden(burden.reshape(len(pts), n_org, -1)),
                                       t_m[pts], u_count, u_when, u_luck)

    def _dysfunction_organ(self, clock: Clock, row, organ, seen, death, fallback, n: int) -> np.ndarray:
        """Per patient, the detected organ whose failure load weighed most on
        the day of death (the fallback where no metastasis was detected by then)."""
        idx = np.flatnonzero(seen & np.isfinite(death[row]))
        if not idx.size:
            return fallback
        n_org = len(self.organs.names)
        cells = clock.take(idx).cells_at(np.nextafter(death[row[idx]], -np.inf))
        seg = row[idx] * n_org + organ[idx]
        load = self.organs.failure_load(np.bincount(seg, cells, n * n_org).reshape(n, n_org))
        has = np.bincount(seg, minlength=n * n_org).reshape(n, n_org) > 0
        best = np.where(has, load, -1.0).argmax(axis=1)
        return np.where(has.any(axis=1), best, fallback)

    # -- the whole course --------------------------------------------------------------------
    def course(self, h: CohortHistory, st: Staging, plan: TreatmentPlan, rng: np.random.Generator,
               follow_up_days: np.ndarray | None = None) -> ClinicalBlock:
        """The clinical course of every patient of ``h`` (patients of one block, colonies founded
        after surgery included); ``rng`` is that block's clinic stream, drawn for the whole block
        and read by each patient's block row, so her course does not depend on which other
        patients of the block are simulated. ``follow_up_days`` (per patient, days from
        diagnosis) replaces the scenario's follow-up (virtual twins of followed patients)."""
        p, cov, n = self.p, h.covariates, len(h)
        all_colonies = h.colonies
        c = all_colonies.take(_oldest(all_colonies, len(self.organs.names), BURDEN_COLONIES))
        rows_in_block = h.patient_id % BLOCK_PATIENTS
        e_other = rng.exponential(size=BLOCK_PATIENTS)[rows_in_block]
        u_ctc = rng.random(BLOCK_PATIENTS)[rows_in_block]
        e_burden = rng.exponential(size=BLOCK_PATIENTS)[rows_in_block]
        z_lines = rng.standard_normal((BLOCK_PATIENTS, MAX_LINE_DRAWS))[rows_in_block]
        u_res, z_res, luck_res = rng.random((3, BLOCK_PATIENTS))[:, rows_in_block]
        z_res = ndtri(np.clip(z_res, 1e-12, 1 - 1e-12))
        n_org = len(self.organs.names)
        u_seeds = rng.random((BLOCK_PATIENTS, n_org))[rows_in_block]
        u_when, u_luck = rng.random((2, BLOCK_PATIENTS, MAX_SECONDARY_SEEDS))[:, rows_in_block]
        u_vertebral = rng.random((BLOCK_PATIENTS, BURDEN_COLONIES + MAX_SECONDARY_SEEDS))[rows_in_block]
        u_pre = rng.random((BLOCK_PATIENTS, n_org))[rows_in_block]
        u_pre_when, u_pre_luck = rng.random((2, BLOCK_PATIENTS, MAX_SECONDARY_SEEDS))[:, rows_in_block]
        u_dtc = rng.random(BLOCK_PATIENTS)[rows_in_block]
        u_relapse_ctc = rng.random(BLOCK_PATIENTS)[rows_in_block]
        u_sre = rng.random(BLOCK_PATIENTS)[rows_in_block]
        # drawn last, so runs without blood draws keep every other draw
        u_draws = rng.random((BLOCK_PATIENTS, len(self.ctc_draw_days)))[rows_in_block] if len(self.ctc_draw_days) \
            else np.empty((n, 0))
        t_dx = h.primary.diagnosis_day
        never = np.full(n, np.inf)
        law = self.colony_law(h, c)
        a_detect = law.time_to(self.detect_cells[c.organ])
        # 1. adjuvant therapy to the first distant metastasis (relapse stops adjuvant therapy)
        first_clock = self._adjuvant_clock(h, plan, c.row, law, c.founded, c.luck, c.organ, "colony", never)
        a_workup = law.time_to(self._staging_cells(st.imaged, c))
        at_dx = st.m1[c.row] & (c.founded + a_workup <= t_dx[c.row])  # found by the staging work-up
        first = _segment_min(np.where(at_dx, t_dx[c.row], np.maximum(first_clock.first_reach(a_detect),
                                                                     t_dx[c.row])), c.row, n)
        t_m = np.where(np.isfinite(first), np.maximum(first, t_dx), np.inf)
        clock = self._adjuvant_clock(h, plan, c.row, law, c.founded, c.luck, c.organ, "colony", t_m)
        # metastases seed metastases while still silent: the clinic follows these too
        pre = self._seeds_before(h, clock, c, t_m, u_pre, u_pre_when, u_pre_luck)
        if len(pre):
            plaw = self.colony_law(h, pre)
            pclock = self._adjuvant_clock(h, plan, pre.row, plaw, pre.founded, pre.luck, pre.organ, "colony", t_m)
            c, law, clock = Colonies.concat([c, pre]), law.concat(plaw), clock.concat(pclock)
            a_detect = law.time_to(self.detect_cells[c.organ])
            at_dx = np.concatenate([at_dx, np.zeros(len(pre), dtype=bool)])
        late = c.origin == METASTATIC  # found at the first distant detection at the earliest
        # the work-up at the first relapse finds the other lesions then of imaging size (brain only with symptoms)
        restaged = self._restaged(clock, c, law, t_m)

        def detected() -> np.ndarray:  # detection days on the clock as it stands (lines change it)
            d = np.where(at_dx, t_dx[c.row], np.maximum(clock.first_reach(a_detect), t_dx[c.row]))
            d = np.where(late, np.maximum(d, t_m[c.row]), d)
            return np.where(restaged, np.minimum(d, t_m[c.row]), d)

        # 2. metastatic lines, then death from organ dysfunction or other causes
        pre_detect = detected()
        bone_treated, bone_speed = self._metastatic_bone_agent(h, plan, clock, c, t_m, pre_detect)
        starts = self._lines(h, plan, clock, c.row, c.organ, t_m, z_lines, bone_speed)
        organ_death, organ_idx, followed, burden = self._burden_death(h, clock, c, t_m, e_burden)
        other = t_dx + self._other_death(cov.age, e_other)
        death = np.minimum(organ_death, other)
        horizon = self.horizon if follow_up_days is None else np.asarray(follow_up_days, dtype=float)
        horizon_day = t_dx + horizon
        end = np.minimum(death, horizon_day)
        detect = detected()
        # metastases seed metastases: new colonies from the metastatic burden until death
        # (a simplification: later lines do not act on these, nor do they add to the death hazard)
        new = self._seeds_from_burden(h, followed, t_m[followed][:, None] + self.grid[None, :],
                                      self._route_burden(burden), np.minimum(end[followed], t_m[followed] + self.grid[-1]),
                                      u_seeds, u_when, u_luck)
        if len(new):
            nlaw = self.colony_law(h, new)
            n_detect = new.founded + nlaw.time_to(self.detect_cells[new.organ])
            n_clock = Clock.build(nlaw, new.founded, new.luck, np.full((len(new), 1), -np.inf), np.ones((len(new), 1)))
            c = Colonies.concat([c, new])
            detect = np.concatenate([detect, n_detect])
            at_dx = np.concatenate([at_dx, np.zeros(len(new), dtype=bool)])
            clock = clock.concat(n_clock)
        seen = detect <= end[c.row]
        first_distant = _segment_min(detect[seen], c.row[seen], n)
        sre_day, sre_kind = self._skeletal_events(h, clock, c, t_m, bone_treated, plan.bone_drug, detect, end,
                                                  u_vertebral, u_sre)
        # 3. local and regional disease left after surgery
        d = h.deposits
        left = np.flatnonzero(st.deposit_left)
        dlaw = Gompertz(rate=d.rate[left], capacity=p["nodes.capacity_cells"])
        dclock = self._adjuvant_clock(h, plan, d.row[left], dlaw, d.founded[left], d.luck[left], None, "deposit", t_m)
        reach = np.maximum(dclock.first_reach(dlaw.time_to(self.node_clinical_cells)), t_dx[d.row[left]])
        regional = _segment_min(reach, d.row[left], n)
        res_prob = np.where(plan.bcs, p["local.residual_prob_bcs"], p["local.residual_prob_mastectomy"])
        has_res = (u_res < res_prob) & ~st.m1
        rr = np.flatnonzero(has_res)
        res_cells = p["local.residual_median_cells"] * 10.0 ** (p["local.residual_log10_sd"] * z_res[rr])
        plaw = Gompertz(rate=h.primary.law.rate[rr], capacity=self.capacity)
        local_cells = float(diameter_to_cells(p["local.detection_mm"], self.per_mm3))
        res_cells = np.minimum(res_cells, 0.5 * local_cells)
        rclock = self._adjuvant_clock(h, plan, rr, plaw, t_dx[rr] - plaw.time_to(res_cells), luck_res[rr], None,
                                      "residual", t_m)
        local = never.copy()
        local[rr] = np.maximum(rclock.first_reach(plaw.time_to(local_cells)), t_dx[rr])
        dep_cells = st.deposit_cells
        pre = c.founded <= t_dx[c.row]
        met_cells = np.bincount(c.row[pre], clock.take(np.flatnonzero(pre)).cells_at(
            np.nextafter(t_dx[c.row[pre]], -np.inf)), n) if pre.any() else np.zeros(n)
        ctc_dx = self._ctc_expected(h, dep_cells, met_cells)
        ctc = poisson_from_uniform(u_ctc, ctc_dx)
        dtc = poisson_from_uniform(u_dtc, self._dtc_expected(h))
        relapse_ctc = self._ctc_at_relapse(h, first_distant, t_dx, end, ctc_dx, clock, c, dclock, left, rclock, rr,
                                           u_relapse_ctc)

        def endpoint(t):
            event = t <= horizon_day
            return np.where(event, t - t_dx, horizon), event

        def day_or_nan(t):
            return np.where(t <= end, t - t_dx, np.nan)

        os_days, os_event = endpoint(death)
        dmfs_days, dmfs_event = endpoint(np.minimum(first_distant, death))
        dfs_days, dfs_event = endpoint(np.minimum.reduce([first_distant, death, regional, local]))
        idx = np.flatnonzero(seen)
        idx = idx[np.lexsort((c.organ[idx], detect[idx], c.row[idx]))]
        rows = c.row[idx]
        # the size when reached (a line's kill on that very day comes after it is found)
        sizes = clock.take(idx).cells_at(np.nextafter(detect[idx], -np.inf))
        names = self.organs.names
        lesions = LesionRecords(
            patient_id=h.patient_id[rows], organ=Labels(c.organ[idx], names),
            detection_day=detect[idx] - t_dx[rows], size_mm=cells_to_diameter(sizes, self.per_mm3),
            clone=Labels(c.clone[idx], h.clone_names), founded_day=c.founded[idx] - t_dx[rows],
            origin=Labels(c.origin[idx], ORIGINS),
            symptoms=Labels(c.organ[idx], tuple("; ".join(SYMPTOMS[o]) for o in names)))
        window = p["followup.first_sites_window_days"]
        in_first = detect[idx] <= first_distant[rows] + window
        organs_seen = c.organ[idx]
        n_org = len(names)
        organ_idx = self._dysfunction_organ(clock, c.row, c.organ, seen, death, organ_idx, n)
        cause = Labels(np.where(os_event, np.where(organ_death <= other, organ_idx, n_org), n_org + 1),
                       tuple(f"organ_failure:{o}" for o in names) + ("other_causes", ""))
        m_code = st.m1.astype(np.int64)
        lines = (starts <= end[:, None]).sum(axis=1)
        patients = PatientRecords(
            patient_id=h.patient_id.astype(np.int64), subtype=Labels(cov.subtype, SUBTYPES),
            histology=Labels(cov.lobular.astype(np.int64), HISTOLOGIES), er=cov.er, pr=cov.pr, her2=cov.her2,
            age_at_diagnosis=cov.age, tumor_size_mm=cov.diameter_mm, grade=cov.grade,
            menopausal=Labels(cov.postmenopausal.astype(np.int64), MENOPAUSAL), tmem_score=cov.tmem_score,
            positive_nodes=st.positive.astype(np.int64), nodes_examined=st.examined.astype(np.int64),
            pT=Labels(st.pt, T_CATEGORIES), pN=Labels(st.pn, N_CATEGORIES), M=Labels(m_code, M_CATEGORIES),
            stage=Labels(STAGE_TABLE[st.pt, st.pn, m_code], STAGE_GROUPS),
            surgery=Labels((~plan.bcs).astype(np.int64), SURGERIES), endocrine=plan.endocrine,
            endocrine_years=plan.endocrine_years.astype(float), chemotherapy=plan.chemotherapy,
            anti_her2=plan.anti_her2, her2_tki=plan.her2_tki, bone_agent=plan.bone_agent,
            radiotherapy=plan.radiotherapy,
            dfs_days=dfs_days, dmfs_days=dmfs_days, os_days=os_days,
            dfs_event=dfs_event, dmfs_event=dmfs_event, os_event=os_event, death_cause=cause,
            first_metastasis_sites=_site_strings(rows[in_first], organs_seen[in_first], n, names),
            metastasis_sites=_site_strings(rows, organs_seen, n, names),
            local_recurrence_day=day_or_nan(local), regional_recurrence_day=day_or_nan(regional),
            distant_metastasis_day=day_or_nan(first_distant), metastatic_lines=lines.astype(np.int64),
            n_colonies=np.bincount(all_colonies.row, minlength=n).astype(np.int64),
            n_secondary_colonies=np.bincount(c.row[c.origin == METASTATIC], minlength=n).astype(np.int64),
            ctc_7_5ml=ctc.astype(np.int64), dtc_bone_marrow=dtc.astype(np.int64), ctc_at_relapse_7_5ml=relapse_ctc,
            metastatic_bone_agent=Labels(np.where(bone_treated & (t_m <= end),
                                                  bone_model.METASTATIC_AGENTS.index(plan.bone_drug), 0),
                                         bone_model.METASTATIC_AGENTS),
            skeletal_event_day=day_or_nan(sre_day),
            skeletal_event=Labels(np.where(sre_kind >= 0, sre_kind, len(SKELETAL_EVENTS)), SKELETAL_EVENTS + ("",)),
            symptoms=_symptom_strings(rows, organs_seen, sre_kind, n, names))
        funnel = h.funnel.sum(axis=0)
        primary_seeded = c.origin[idx] != METASTATIC  # the funnel follows the primary's and deposits' units
        funnel[stage("detected"), ORGAN_COLUMNS] += np.bincount(organs_seen[primary_seeded], minlength=len(names))
        draws = self._ctc_draws(h, t_dx, end, ctc_dx, clock, c, dclock, left, rclock, rr, u_draws)
        return ClinicalBlock(patients=patients, lesions=lesions, funnel=funnel, ctc_draws=draws)


@dataclass(frozen=True)
class Staging:
    """At surgery, per patient: pT and pN codes, positive and examined nodes, metastases
    detectable (M1), whether the staging work-up imaged her; per deposit: left in an undissected
    node, and its cells."""

    pt: np.ndarray
    pn: np.ndarray
    positive: np.ndarray
    examined: np.ndarray
    m1: np.ndarray
    deposit_left: np.ndarray
    deposit_cells: np.ndarray
    imaged: np.ndarray


def bone_model_refusal(p: ParameterSet, err: Exception) -> ScenarioError:
    """A clear one-line refusal for parameters (each in its range) with which a bone lesion has
    no finite course, naming the ``bone.*`` values that differ from the defaults."""
    from seedsoil.params import default_parameters

    ref = default_parameters()
    changed = {k: p[k] for k in p if k.startswith("bone.") and p[k] != ref[k]}
    shown = ", ".join(f"{k} = {v:g}" for k, v in changed.items()) or "the defaults"
    return ScenarioError("scenario parameters", "parameters", _MISSING,
                         f"{err}; together these bone-model values give a bone lesion no finite course ({shown}): "
                         "move them towards their published values (seedsoil params --show bone.NAME)")


def _by_patient_organ(cells: np.ndarray, seg: np.ndarray, n_seg: int) -> np.ndarray:
    """Cells of each growth (items, J) summed into its (patient, organ) segment ``seg``: (n_seg, J)."""
    out = np.zeros((n_seg, cells.shape[1]))
    np.add.at(out, seg, cells)
    return out


def _oldest(c: Colonies, n_org: int, k: int) -> np.ndarray:
    """Indices (canonical order kept) of each patient's ``k`` oldest colonies in each organ."""
    if not len(c):
        return np.empty(0, dtype=np.int64)
    grp = c.row * n_org + c.organ
    return np.flatnonzero(rank_in_group(grp, np.lexsort((c.founded, c.organ, c.row))) < k)
