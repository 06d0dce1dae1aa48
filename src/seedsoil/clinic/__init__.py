"""Clinic (layer 4): diagnosis, staging, treatment, follow-up, death and endpoints."""

from seedsoil.clinic.course import Clinic, ClinicalOutcome
from seedsoil.clinic.staging import n_category, stage_group, t_category

__all__ = ["Clinic", "ClinicalOutcome", "n_category", "stage_group", "t_category"]
