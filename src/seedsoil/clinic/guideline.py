"""Who gets which therapy: the era's guideline by subtype, stage, age and menopause, overridden
by the scenario's ``[treatment]`` table; one :class:`TreatmentPlan` per block of patients.

Era ``"1990"`` is what Kennecke et al. 2010's 1986-92 cohort received (tamoxifen, CMF-type
chemotherapy for node-positive disease, no anti-HER2 or bone agents; metastatic lines of
tamoxifen, a second hormone and chemotherapy). Era ``"modern"`` is 2010s care as in ESME
2008-2016: St Gallen 2013 / ESMO 2019 adjuvant rules (thresholds are ``guideline.*``
parameters) and metastatic lines of endocrine therapy with CDK4/6 inhibitors, anti-HER2
antibodies and chemotherapy (Cardoso et al. 2020 Ann Oncol 31:1623).

A therapy set to ``true`` is given to everyone it can apply to (endocrine: ER+; anti-HER2 and
HER2 inhibitors: HER2+; radiotherapy: after breast-conserving surgery or mastectomy alike;
bone agents: everyone, though they act only after menopause). Nobody with metastases at
diagnosis gets adjuvant therapy: she starts metastatic lines instead.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from seedsoil.engine.covariates import Covariates
from seedsoil.params import ParameterSet
from seedsoil.scenario import SUBTYPES, Treatment

LUMINAL_A, LUMINAL_B, HER2, TRIPLE_NEGATIVE = (SUBTYPES.index(s) for s in SUBTYPES)
REGIMENS = ("endocrine", "chemo", "anti_her2")
"""Kinds of metastatic line; each has a resistant share per era (``metastatic.resistant_fraction.*``)."""
LINES = {
    # (era, hormone receptor positive, HER2 positive) -> regimens of the successive lines
    ("1990", True, False): ("endocrine", "endocrine", "chemo", "chemo"),
    ("1990", True, True): ("endocrine", "chemo", "chemo"),
    ("1990", False, True): ("chemo", "chemo"),
    ("1990", False, False): ("chemo", "chemo"),
    ("modern", True, False): ("endocrine", "endocrine", "chemo", "chemo", "chemo", "chemo"),
    ("modern", True, True): ("anti_her2", "anti_her2", "anti_her2", "endocrine", "chemo", "chemo"),
    ("modern", False, True): ("anti_her2", "anti_her2", "anti_her2", "chemo", "chemo"),
    ("modern", False, False): ("chemo", "chemo", "chemo", "chemo"),
}
"""Sequences of metastatic lines by era and receptors (ESMO ABC 5, Cardoso et al. 2020; for
1990 the practice of the Kennecke cohort). ``metastatic.max_lines.<era>`` caps their number."""


WORKUP_SKIPS = ("brain",)
"""Organs the staging work-up (at diagnosis and at a first distant relapse) does not image: CT of
chest, abdomen and pelvis and a bone scan are advised, brain imaging only with symptoms (ESMO ABC
guidelines, Cardoso et al. 2020 Ann Oncol 31:1623; ESMO early breast cancer guidelines, Cardoso et
al. 2019 Ann Oncol 30:1194; NCCN), so a silent brain metastasis is found when it causes symptoms
(its organ's detection diameter)."""
METASTATIC_BONE_AGENT = {"1990": "none", "modern": "zoledronic_acid"}
"""Bone-targeted agent for bone metastases by era: none in the Kennecke cohort (pamidronate's
benefit was shown in 1996, Hortobagyi et al. N Engl J Med 335:1785); zoledronic acid, the agent
most given in ESME's 2008-2016 cohort and an ASCO 2011 option (Van Poznak et al. J Clin Oncol
29:1221), or denosumab by scenario choice (``treatment.metastatic_bone_agent``)."""


@dataclass(frozen=True)
class TreatmentPlan:
    """Each patient's therapies (one entry per patient): surgery, adjuvant therapies and whether
    metastatic lines are given; ``era`` for the whole block."""

    era: str
    bcs: np.ndarray
    endocrine: np.ndarray
    endocrine_years: np.ndarray
    chemotherapy: np.ndarray
    anti_her2: np.ndarray
    her2_tki: np.ndarray
    bone_agent: np.ndarray
    radiotherapy: np.ndarray
    metastatic: np.ndarray
    bone_drug: str = "none"

    def __len__(self) -> int:
        return len(self.bcs)

    def take(self, rows) -> TreatmentPlan:
        return TreatmentPlan(self.era, *(getattr(self, f.name)[rows] for f in fields(self)
                                         if f.name not in ("era", "bone_drug")), bone_drug=self.bone_drug)


def _override(choice, guideline: np.ndarray, applies: np.ndarray) -> np.ndarray:
    if choice == "guideline":
        return guideline & applies
    return applies.copy() if choice else np.zeros_like(applies)


def assign(cov: Covariates, positive_nodes: np.ndarray, metastatic_at_diagnosis: np.ndarray, treatment: Treatment,
           p: ParameterSet) -> TreatmentPlan:
    """The plan of each patient from who she is and her pathological stage at surgery."""
    era = treatment.era
    size_mm = cov.diameter_mm
    n = len(cov)
    node_pos = positive_nodes > 0
    hr = cov.er | cov.pr
    her2 = cov.her2
    post = cov.postmenopausal
    adjuvant = ~metastatic_at_diagnosis & (treatment.adjuvant != "none")
    everyone = np.ones(n, dtype=bool)
    grade3 = cov.grade == 3
    if era == "1990":
        endo = hr & (post | node_pos)
        chemo = node_pos & (~post | ~cov.er)
        anti = np.zeros(n, dtype=bool)
        bone = np.zeros(n, dtype=bool)
    else:
        endo = hr.copy()
        big = size_mm > p["guideline.chemo_min_mm"]
        chemo = np.select(
            [cov.subtype == TRIPLE_NEGATIVE, her2, cov.subtype == LUMINAL_B, cov.subtype == LUMINAL_A],
            [big | node_pos, big | node_pos,
             node_pos | grade3 | (size_mm > p["guideline.luminal_b_chemo_min_mm"]),
             positive_nodes > p["nodes.pn1a_max_positive"]], default=False)
        anti = her2 & (big | node_pos)
        bone = post & (node_pos | (size_mm > p["guideline.bone_agent_min_mm"]))
    if treatment.surgery == "guideline":
        bcs = size_mm <= p[f"guideline.{era}.bcs_max_mm"]
    else:
        bcs = np.full(n, treatment.surgery == "bcs")
    rt = bcs | (positive_nodes >= p["guideline.radiotherapy_mastectomy_min_nodes"]) \
        | (size_mm > p["guideline.radiotherapy_mastectomy_min_mm"])
    endocrine = _override(treatment.choice("endocrine"), endo, hr) & adjuvant
    return TreatmentPlan(
        era=era, bcs=bcs,
        endocrine=endocrine,
        endocrine_years=np.where(endocrine, treatment.endocrine_years, 0.0),
        chemotherapy=_override(treatment.choice("chemotherapy"), chemo, everyone) & adjuvant,
        anti_her2=_override(treatment.choice("anti_her2"), anti, her2) & adjuvant,
        her2_tki=_override(treatment.choice("her2_tki"), np.zeros(n, dtype=bool), her2) & adjuvant,
        bone_agent=_override(treatment.choice("bone_agent"), bone, everyone) & adjuvant,
        radiotherapy=_override(treatment.choice("radiotherapy"), rt, everyone) & ~metastatic_at_diagnosis,
        metastatic=np.full(n, treatment.metastatic != "none"),
        bone_drug="none" if treatment.metastatic == "none" else (
            METASTATIC_BONE_AGENT[era] if treatment.metastatic_bone_agent == "guideline"
            else treatment.metastatic_bone_agent),
    )


def line_regimens(era: str, hr: np.ndarray, her2: np.ndarray, max_lines: int) -> np.ndarray:
    """Per patient, the regimen index (:data:`REGIMENS`) of each metastatic line, -1 past the last:
    shape (patients, max_lines)."""
    out = np.full((len(hr), max_lines), -1, dtype=np.int64)
    for (e, h, x), seq in LINES.items():
        if e != era:
            continue
        rows = (hr == h) & (her2 == x)
        k = min(len(seq), max_lines)
        out[np.ix_(rows, np.arange(k))] = [REGIMENS.index(r) for r in seq[:k]]
    return out
