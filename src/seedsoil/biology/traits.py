"""Seed traits: what a clone of tumour cells carries (each trait in [0, 1])."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from seedsoil.params import ParameterSet


@dataclass(frozen=True)
class Traits:
    """A clone's trait vector: E-cadherin, CXCR4, HER2, ER, EMT, MMP, PTHrP, platelet binding,
    brain metabolism (lactate/GABA), neuregulin response, the HER2-independent blood-brain
    barrier crossing programme (COX2, HBEGF, ST6GALNAC5) and the exosome integrin profile."""

    ecad: float = 1.0
    cxcr4: float = 0.0
    her2: float = 0.0
    er: float = 0.0
    emt: float = 0.0
    mmp: float = 0.0
    pthrp: float = 0.0
    platelet_binding: float = 0.0
    brain_metabolism: float = 0.0
    nrg_response: float = 0.0
    bbb_crossing: float = 0.0
    integrin_lung: float = 0.0
    integrin_liver: float = 0.0
    integrin_brain: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"trait {f.name} = {v!r}: must be in [0, 1]")

    def integrin_for(self, organ: str) -> float:
        """Exosome integrin priming strength aimed at ``organ`` (0 for organs no integrin targets)."""
        return getattr(self, f"integrin_{organ}", 0.0)

    def with_(self, **changes: float) -> Traits:
        return replace(self, **changes)


TRAIT_NAMES = tuple(f.name for f in fields(Traits))
RECEPTOR_TRAITS = ("er", "her2")
"""Traits set by each patient's receptor status, not by her subtype's defaults."""


def subtype_traits(params: ParameterSet, subtype: str, *, er: bool, her2: bool, lobular: bool) -> Traits:
    """Default traits of a patient's tumour: the subtype's defaults, set by its receptor status;
    lobular histology (ILC) means E-cadherin loss."""
    base = params.group(f"trait.{subtype}")
    bad = sorted(set(base) - (set(TRAIT_NAMES) - set(RECEPTOR_TRAITS)))
    if bad:  # a registry row the model would not read: refuse it rather than ignore it
        raise ValueError(f"parameter trait.{subtype}.{bad[0]} is not a subtype trait: allowed "
                         f"{', '.join(t for t in TRAIT_NAMES if t not in RECEPTOR_TRAITS)} "
                         f"({' and '.join(RECEPTOR_TRAITS)} come from each patient's receptor status)")
    base["er"] = 1.0 if er else 0.0
    base["her2"] = 1.0 if her2 else 0.0
    if lobular:
        base["ecad"] = 0.0
    return Traits(**base)
