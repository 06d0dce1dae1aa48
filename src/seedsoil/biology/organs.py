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
    "tolerated_burden_cells", "integrin_target", "failure_exponent", "complication_cells", "complication_hazard_fold",
    "awakening_fold", "dormant_death_fold",
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


FAILURE_MODES = {
    # how a metastasis there kills (seed document 000: the liver fails with modest burden, the
    # skeleton withstands a large one; DESIGN.md section 3): organ -> (way of failing, complication)
    "lung": ("respiratory failure", ""),
    "liver": ("hepatic failure", ""),
    "bone": ("marrow failure, hypercalcaemia", ""),
    "brain": ("raised intracranial pressure", ""),
    "distant_nodes": ("bulk", ""),
    "pleura": ("respiratory compromise", "effusion"),
    "peritoneum": ("bulk", "ascites, bowel obstruction"),
    "gi_tract": ("bulk", "bowel obstruction"),
    "ovary": ("bulk", ""),
    "adrenal": ("adrenal insufficiency", ""),
    "skin_soft_tissue": ("bulk", ""),
    "other": ("bulk", ""),
}


def failure_load(burden: np.ndarray, reserve: np.ndarray, exponent: np.ndarray, complication_cells: np.ndarray,
                 complication_fold: np.ndarray) -> np.ndarray:
    """Each organ's share of the death hazard (in units of ``mortality.burden_hazard_per_day``)
    from its tumour burden (cells; organ axis last, broadcast with the per-organ arrays):
    ``(burden / reserve) ** exponent`` (organ function lost as tumour replaces it; exponent > 1
    where compensation hides the loss until the reserve is used up, as in the skull and the
    liver) plus ``complication_fold * x / (1 + x)`` with ``x = burden / complication_cells``: a
    complication (effusion, ascites, obstruction) whose harm saturates once it is established.

    >>> import numpy as np
    >>> failure_load(np.array([1e10, 2e10]), np.array([1e10, 1e10]), np.array([1.0, 2.0]),
    ...              np.array([1e9, 1e9]), np.array([0.0, 0.5])).round(3)
    array([1.   , 4.476])
    """
    x = burden / complication_cells
    return (burden / reserve) ** exponent + complication_fold * x / (1.0 + x)


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

    def failure_load(self, burden: np.ndarray, reserve: np.ndarray | None = None) -> np.ndarray:
        """:func:`failure_load` with this table's organ values (organ axis of ``burden`` last;
        ``reserve`` defaults to the tolerated burden)."""
        return failure_load(burden, self.tolerated_burden_cells if reserve is None else reserve,
                            self.failure_exponent, self.complication_cells, self.complication_hazard_fold)

    @classmethod
    def from_params(cls, params: ParameterSet) -> OrganTable:
        vals = {f: np.array([params[f"organ.{o}.{f}"] for o in ORGANS], dtype=float) for f in FIELDS}
        return cls(names=ORGANS, values=vals)
