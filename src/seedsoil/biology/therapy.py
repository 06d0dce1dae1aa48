"""Treatment as the biology sees it: which rates a plan changes and when (days)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.biology.cascade import DAYS_PER_YEAR, dormancy_rates
from seedsoil.biology.dormancy import AwakeningSchedule
from seedsoil.biology.traits import Traits
from seedsoil.params import ParameterSet


@dataclass(frozen=True)
class TreatmentPlan:
    """Adjuvant endocrine therapy (years from surgery; one value per patient, or a float for one
    patient) and metastatic-phase growth slowing."""

    endocrine_years: np.ndarray | float
    endocrine_awakening_fold: float
    metastatic_growth_fold: float

    @classmethod
    def standard(cls, er_positive, p: ParameterSet) -> TreatmentPlan:
        """Guideline default: endocrine therapy for ER+ disease; systemic therapy once metastatic."""
        er = np.asarray(er_positive, dtype=bool)
        years = np.where(er, p["treatment.endocrine_years"], 0.0)
        return cls(
            endocrine_years=float(years) if years.ndim == 0 else years,
            endocrine_awakening_fold=p["treatment.endocrine_awakening_fold"],
            metastatic_growth_fold=p["treatment.metastatic_growth_fold"],
        )

    def take(self, rows) -> TreatmentPlan:
        return TreatmentPlan(np.asarray(self.endocrine_years)[rows], self.endocrine_awakening_fold,
                             self.metastatic_growth_fold)

    def for_patient(self, row: int) -> TreatmentPlan:
        return TreatmentPlan(float(np.asarray(self.endocrine_years)[row]), self.endocrine_awakening_fold,
                             self.metastatic_growth_fold)


def awakening_schedule(traits: Traits, surgery_day: float, plan: TreatmentPlan, p: ParameterSet) -> AwakeningSchedule:
    """Awakening rate of this clone's dormant cells over calendar time for one patient, suppressed
    while on endocrine therapy (from surgery for ``plan.endocrine_years``)."""
    wake, death = dormancy_rates(traits, p)
    years = float(plan.endocrine_years)
    if years <= 0:
        return AwakeningSchedule([0.0], [wake], death)
    end = surgery_day + years * DAYS_PER_YEAR
    return AwakeningSchedule([0.0, surgery_day, end], [wake, wake * plan.endocrine_awakening_fold, wake], death)
