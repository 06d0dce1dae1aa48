"""The start of every patient's history, shared by both engines: her stream, covariates,
primary, clones, treatment plan and dormancy schedules, drawn first and in a fixed order so
that the engines agree patient by patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.biology.dormancy import AwakeningSchedule
from seedsoil.biology.therapy import TreatmentPlan, awakening_schedule
from seedsoil.biology.traits import Traits
from seedsoil.engine.covariates import Covariates, Primary, clone_traits, primary_growth, sample_covariates
from seedsoil.engine.streams import patient_rng
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario


@dataclass(frozen=True)
class PatientStart:
    """What both engines know about a patient before any cell leaves the primary."""

    rng: np.random.Generator
    covariates: Covariates
    primary: Primary
    traits: list[Traits]
    shares: np.ndarray
    plan: TreatmentPlan
    schedules: list[AwakeningSchedule]


def start_patient(scenario: Scenario, p: ParameterSet, seed: int, patient_id: int) -> PatientStart:
    """Draw the patient's covariates and primary from her own stream and derive the rest."""
    rng = patient_rng(seed, patient_id)
    cov = sample_covariates(scenario, p, rng)
    primary = primary_growth(cov, p)
    traits, shares = clone_traits(scenario, cov, p)
    plan = TreatmentPlan.standard(cov.er, p)
    schedules = [awakening_schedule(tr, primary.diagnosis_day, plan, p) for tr in traits]
    return PatientStart(rng, cov, primary, traits, shares, plan, schedules)
