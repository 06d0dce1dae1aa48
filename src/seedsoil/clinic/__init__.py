"""Clinic (layer 4): diagnosis, staging, treatment, follow-up, death and endpoints."""

from seedsoil.clinic.course import Clinic
from seedsoil.clinic.records import ClinicalBlock, LesionRecords, PatientRecords
from seedsoil.clinic.staging import n_category, stage_group, t_category

__all__ = ["Clinic", "ClinicalBlock", "LesionRecords", "PatientRecords", "n_category", "stage_group", "t_category"]
