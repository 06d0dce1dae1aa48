"""What the clinic returns for a block of patients: typed columnar records, one field per column
of patients.parquet and lesions.parquet (docs/schema.md; a test keeps the two in step)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Labels:
    """A text column as codes into a tuple of names (every text column of the clinic is one of
    a few values: subtypes, stages, organs...), cheap to build, take and convert."""

    codes: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, idx) -> Labels:
        return Labels(self.codes[idx], self.names)


    @staticmethod
    def concat(parts: list[Labels]) -> Labels:
        names = tuple(dict.fromkeys(n for p in parts for n in p.names))
        index = {n: i for i, n in enumerate(names)}
        codes = [np.array([index[n] for n in p.names], dtype=np.int64)[p.codes] if len(p.codes) else
                 np.empty(0, dtype=np.int64) for p in parts]
        return Labels(np.concatenate(codes) if codes else np.empty(0, dtype=np.int64), names)


def _concat(values: list):
    return Labels.concat(values) if isinstance(values[0], Labels) else np.concatenate(values)


@dataclass
class _Columns:
    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def columns(self) -> dict[str, np.ndarray]:
        """Field name -> array, in schema order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def concat(cls, parts: list):
        return cls(*(_concat([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, idx):
        return type(self)(*(getattr(self, f.name)[idx] for f in fields(self)))


@dataclass
class PatientRecords(_Columns):
    """One entry per patient (text as :class:`Labels`; days from diagnosis; NaN = none)."""

    patient_id: np.ndarray
    subtype: np.ndarray
    histology: np.ndarray
    er: np.ndarray
    pr: np.ndarray
    her2: np.ndarray
    age_at_diagnosis: np.ndarray
    tumor_size_mm: np.ndarray
    grade: np.ndarray
    menopausal: np.ndarray
    tmem_score: np.ndarray
    positive_nodes: np.ndarray
    nodes_examined: np.ndarray
    pT: np.ndarray
    pN: np.ndarray
    M: np.ndarray
    stage: np.ndarray
    surgery: np.ndarray
    endocrine: np.ndarray
    endocrine_years: np.ndarray
    chemotherapy: np.ndarray
    anti_her2: np.ndarray
    her2_tki: np.ndarray
    bone_agent: np.ndarray
    radiotherapy: np.ndarray
    dfs_days: np.ndarray
    dmfs_days: np.ndarray
    os_days: np.ndarray
    dfs_event: np.ndarray
    dmfs_event: np.ndarray
    os_event: np.ndarray
    death_cause: np.ndarray
    first_metastasis_sites: np.ndarray
    metastasis_sites: np.ndarray
    local_recurrence_day: np.ndarray
    regional_recurrence_day: np.ndarray
    distant_metastasis_day: np.ndarray
    metastatic_lines: np.ndarray
    n_colonies: np.ndarray
    n_secondary_colonies: np.ndarray
    ctc_7_5ml: np.ndarray
    dtc_bone_marrow: np.ndarray
    ctc_at_relapse_7_5ml: np.ndarray
    metastatic_bone_agent: np.ndarray
    skeletal_event_day: np.ndarray
    skeletal_event: np.ndarray
    symptoms: np.ndarray


@dataclass
class LesionRecords(_Columns):
    """One entry per detected distant metastasis (text as :class:`Labels`; days from diagnosis)."""

    patient_id: np.ndarray
    organ: np.ndarray
    detection_day: np.ndarray
    size_mm: np.ndarray
    clone: np.ndarray
    founded_day: np.ndarray
    origin: np.ndarray
    symptoms: np.ndarray


@dataclass
class CtcDrawRecords(_Columns):
    """One entry per blood draw (days from diagnosis; counts in 7.5 mL)."""

    patient_id: np.ndarray
    day: np.ndarray
    ctc_7_5ml: np.ndarray
    expected_ctc: np.ndarray


@dataclass
class ClinicalBlock:
    """The clinic's output for a block: patient, lesion and blood-draw records and the funnel
    summed over the block's patients (stage x site, detected metastases included)."""

    patients: PatientRecords
    lesions: LesionRecords
    funnel: np.ndarray
    ctc_draws: CtcDrawRecords
