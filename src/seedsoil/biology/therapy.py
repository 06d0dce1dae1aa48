"""Treatment as the biology sees it: which rates a plan changes and when (days)."""

from __future__ import annotations

from dataclasses import dataclass

from seedsoil.biology.cascade import DAYS_PER_YEAR, dormancy_rates
from seedsoil.biology.dormancy import AwakeningSchedule
from seedsoil.biology.traits import Traits
from seedsoil.params import ParameterSet


@dataclass(frozen=True)
class TreatmentPlan:
    """Adjuvant endocrine therapy (years from surgery) and metastatic-phase growth slowing."""

    endocrine_years: float
    endocrine_awakening_fold: float
    metastatic_growth_fold: float

    @classmethod
    def standard(cls, er_positive: bool, p: ParameterSet) -> TreatmentPlan:
        """Guideline default: endocrine therapy for ER+ disease; systemic therapy once metastatic."""
        return cls(
            endocrine_years=p["treatment.endocrine_years"] if er_positive else 0.0,
            endocrine_awakening_fold=p["treatment.endocrine_awakening_fold"],
            metastatic_growth_fold=p["treatment.metastatic_growth_fold"],
        )


def awakening_schedule(traits: Traits, surgery_day: float, plan: TreatmentPlan, p: ParameterSet) -> AwakeningSchedule:
    """Awakening rate of this clone's dormant cells over calendar time, suppressed while on
    endocrine therapy (from surgery for ``plan.endocrine_years``)."""
    wake, death = dormancy_rates(traits, p)
    if plan.endocrine_years <= 0:
        return AwakeningSchedule([0.0], [wake], death)
    end = surgery_day + plan.endocrine_years * DAYS_PER_YEAR
    return AwakeningSchedule([0.0, surgery_day, end], [wake, wake * plan.endocrine_awakening_fold, wake], death)
