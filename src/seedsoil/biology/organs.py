"""The organ table: the soil each distant site offers (flows, CXCL12, barriers, tolerance)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedsoil.params import ParameterSet

ORGANS = (
    "lung", "liver", "bone", "brain", "distant_nodes", "pleura", "peritoneum",
    "gi_tract", "ovary", "adrenal", "skin_soft_tissue", "other",
)
FIELDS = (
    "blood_flow_share", "cxcl12", "extravasation_ease", "capillary_dense", "serosal",
    "dormancy_share", "micromet_share", "soil_fit", "growth_fold", "detection_mm",
    "tolerated_burden_cells", "integrin_target",
)
SYMPTOMS = {
    # what a metastasis there causes (the patient-guide seed document; DESIGN.md section 3)
    "lung": ("cough", "breathlessness"),
    "liver": ("jaundice", "abdominal swelling", "fatigue"),
    "bone": ("bone pain",),
    "brain": ("headache", "seizures", "focal neurological deficit"),
    "distant_nodes": ("enlarged lymph nodes",),
    "pleura": ("pleural effusion", "breathlessness"),
    "peritoneum": ("ascites", "abdominal swelling"),
    "gi_tract": ("bowel obstruction", "abdominal pain"),
    "ovary": ("pelvic mass", "abdominal pain"),
    "adrenal": (),
    "skin_soft_tissue": ("skin nodules",),
    "other": (),
}


@dataclass(frozen=True)
class OrganTable:
    """Per-organ soil properties as aligned arrays (index = position in :data:`ORGANS`)."""

    names: tuple[str, ...]
    values: dict[str, np.ndarray]

    def __getattr__(self, field: str) -> np.ndarray:
        try:
            return self.values[field]
        except KeyError:
            raise AttributeError(field) from None

    def index(self, organ: str) -> int:
        return self.names.index(organ)

    @classmethod
    def from_params(cls, params: ParameterSet) -> OrganTable:
        vals = {f: np.array([params[f"organ.{o}.{f}"] for o in ORGANS], dtype=float) for f in FIELDS}
        return cls(names=ORGANS, values=vals)
