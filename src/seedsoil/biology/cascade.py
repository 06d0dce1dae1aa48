"""Stage probabilities of the metastatic cascade as functions of seed traits and organ soil.

Pure functions, no randomness: both engines (per-cell reference and event-driven fast) call
these and differ only in how they sample. A *unit* leaving the primary is a single cell or a
multicellular cluster (``UNIT_CLASSES``); rates are per tumour cell per day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seedsoil.biology.organs import OrganTable
from seedsoil.biology.traits import Traits
from seedsoil.params import ParameterSet

SINGLE, CLUSTER = 0, 1
UNIT_CLASSES = ("single", "cluster")
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Shedding:
    """Units leaving the primary per tumour cell per day, by route and unit class."""

    blood: np.ndarray  # shape (2,): single, cluster units per cell per day
    lymph: np.ndarray  # shape (2,)
    cluster_mean_size: float

    @property
    def cells_per_unit(self) -> np.ndarray:
        return np.array([1.0, self.cluster_mean_size])


def invasion_factor(traits: Traits, p: ParameterSet) -> float:
    """Fold change of the leaving rate from MMPs and EMT (1 for a clone with neither)."""
    return math.exp(p["dissemination.mmp_log_effect"] * traits.mmp + p["dissemination.emt_log_effect"] * traits.emt)


def cluster_fraction(traits: Traits, p: ParameterSet) -> float:
    """Share of leaving units that are clusters: E-cadherin keeps cells together, EMT undoes it."""
    return p["dissemination.cluster_fraction_full_ecad"] * traits.ecad * (1.0 - traits.emt)


def tmem_factor(tmem_score: float, p: ParameterSet) -> float:
    """Blood entry through TMEM doorways rises with their density (Robinson 2009): a power law
    whose exponent is calibrated to the published odds ratio (1 = proportional to density)."""
    return (tmem_score / p["tmem.reference_score"]) ** p["tmem.dose_exponent"]


def shedding(traits: Traits, tmem_score: float, p: ParameterSet) -> Shedding:
    """Unit rates per tumour cell per day: invasion (MMP, EMT) sets how many cells leave,
    TMEM density how many reach blood, a share reaches lymphatics; E-cadherin sets clustering."""
    cells = (p["dissemination.shed_rate_per_cell_day"] * p["dissemination.human_shedding_scale"]
             * invasion_factor(traits, p))
    q = cluster_fraction(traits, p)
    size = p["dissemination.cluster_mean_size"]
    mean_cells = (1.0 - q) + q * size
    split = np.array([1.0 - q, q]) / mean_cells  # units per cell leaving, by class
    blood = cells * tmem_factor(tmem_score, p) * split
    lymph = cells * p["dissemination.lymph_to_blood_ratio"] * split
    return Shedding(blood=blood, lymph=lymph, cluster_mean_size=size)


def circulating_units(blood_units_per_day, p: ParameterSet, sample_ml: float | None = None):
    """Expected tumour units in the blood at steady state (mean residence = half-life / ln 2),
    or in a draw of ``sample_ml`` millilitres (CellSearch draws 7.5 mL)."""
    residence_days = p["circulation.ctc_half_life_h"] / math.log(2.0) / 24.0
    n = np.asarray(blood_units_per_day, dtype=float) * residence_days
    return n if sample_ml is None else n * sample_ml / p["circulation.blood_volume_ml"]


def circulation_survival(traits: Traits, p: ParameterSet) -> np.ndarray:
    """Probability a unit survives shear and NK cells until it arrests, by class; platelet
    cloaking shields from NK killing, clusters resist both."""
    shield = 1.0 - p["circulation.platelet_shield"] * traits.platelet_binding
    single = (1 - p["circulation.shear_death_single"]) * (1 - p["circulation.nk_death"] * shield)
    cluster = (1 - p["circulation.shear_death_cluster"]) * (1 - p["circulation.nk_death_cluster"] * shield)
    return np.array([single, cluster])


def homing_weight(traits: Traits, organs: OrganTable, p: ParameterSet) -> np.ndarray:
    """CXCR4 key x CXCL12 lock: multiplicative arrest weight per organ."""
    return np.exp(p["homing.cxcr4_strength"] * traits.cxcr4 * organs.cxcl12)


def lung_first_pass(p: ParameterSet) -> np.ndarray:
    """Probability of arrest in the lung capillaries on the first pass (venous drainage of the
    breast reaches the lung first), by class: mechanical size trapping, clusters nearly always."""
    return np.array([p["arrest.lung_trap_single"], p["arrest.lung_trap_cluster"]])


def arrest_distribution(traits: Traits, organs: OrganTable, p: ParameterSet, *, first_pass: str = "lung") -> np.ndarray:
    """Where surviving units arrest, shape (2 classes, organs), rows sum to 1.

    ``first_pass='lung'`` is the venous route of a breast tumour (and the intravenous assay);
    ``'liver'`` is the portal route (intraportal assay); ``'none'`` the arterial route
    (intracardiac assay). Beyond the first bed, arrest follows blood flow x homing, with clusters
    lodging preferentially in dense capillary beds.
    """
    w = organs.blood_flow_share * homing_weight(traits, organs, p)
    bonus = np.where(organs.capillary_dense > 0, p["arrest.cluster_capillary_bonus"], 1.0)
    systemic = np.vstack([w / w.sum(), (w * bonus) / (w * bonus).sum()])
    if first_pass == "none":
        return systemic
    lung, liver = organs.index("lung"), organs.index("liver")
    trap_lung = lung_first_pass(p)
    via_lung = (1.0 - trap_lung)[:, None] * systemic
    via_lung[:, lung] += trap_lung
    if first_pass == "lung":
        return via_lung
    if first_pass == "liver":  # portal blood: liver sinusoids, then the lung, then the arteries
        trap = np.array([p["arrest.liver_trap_single"], p["arrest.liver_trap_cluster"]])
        out = (1.0 - trap)[:, None] * via_lung
        out[:, liver] += trap
        return out
    raise ValueError(f"first_pass must be 'lung', 'liver' or 'none', not {first_pass!r}")


def extravasation(traits: Traits, organs: OrganTable, p: ParameterSet) -> np.ndarray:
    """Probability an arrested unit crosses the vessel wall, per organ: sinusoids easy, the
    blood-brain barrier hard unless HER2 or the COX2/HBEGF/ST6GALNAC5 programme (Bos 2009)
    equips the cell; MMPs help everywhere."""
    ease = organs.extravasation_ease * p["extravasation.mmp_fold"] ** traits.mmp
    brain = organs.index("brain")
    ease[brain] *= (p["extravasation.her2_bbb_fold"] ** traits.her2
                    * p["extravasation.bbb_programme_fold"] ** traits.bbb_crossing)
    return np.minimum(ease, 1.0)


def fate_shares(organs: OrganTable) -> np.ndarray:
    """Fates of an extravasated unit per organ, shape (organs, 3): dormant, micrometastasis, death."""
    d, m = organs.dormancy_share, organs.micromet_share
    return np.column_stack([d, m, 1.0 - d - m])


def priming_level(primary_cells, p: ParameterSet):
    """Pre-metastatic niche priming by exosomes, rising with primary size (0..1)."""
    n = np.asarray(primary_cells, dtype=float)
    return n / (n + p["colonisation.niche_half_cells"])


def soil_factor(traits: Traits, organs: OrganTable, p: ParameterSet, priming=0.0, *, human: bool = True) -> np.ndarray:
    """Relative odds that a micrometastasis progresses, per organ (shape (..., organs)):
    the organ's soil fit times what the seed brings to it: PTHrP in bone (vicious cycle),
    lactate/GABA metabolism and neuregulin response in brain, discohesion on serosal surfaces
    (and, in human soils only, E-cadherin loss costing lung outgrowth), exosome priming of targeted
    organs, and CXCL12 as a survival signal for CXCR4+ cells.
    ``priming`` may be an array (times) -> extra leading axis."""
    f = organs.soil_fit * np.exp(p["homing.cxcr4_survival_strength"] * traits.cxcr4 * organs.cxcl12)
    f[organs.index("bone")] *= p["colonisation.pthrp_fold"] ** traits.pthrp
    f[organs.index("brain")] *= (p["colonisation.brain_metabolism_fold"] ** traits.brain_metabolism
                                 * p["colonisation.nrg_fold"] ** traits.nrg_response)
    serosal = organs.serosal > 0
    f[serosal] *= p["colonisation.serosal_fit_cohesive"] ** traits.ecad  # discohesive cells coat surfaces
    if human:  # cells without E-cadherin (a share 1 - ecad) grow out in the lung less (Padmanaban 2019)
        f[organs.index("lung")] *= traits.ecad + (1.0 - traits.ecad) * p["colonisation.lung_fit_discohesive"]
    prim = np.asarray(priming, dtype=float)[..., None]
    return f * (1.0 + niche_gain(traits, organs, p) * prim)


def birth_death_survival(p: ParameterSet) -> float:
    """Probability a one-cell colony escapes early extinction (linear birth-death: 1 - d/b)."""
    return 1.0 - p["colony.death_rate_per_day"] / p["colony.birth_rate_per_day"]


def niche_gain(traits: Traits, organs: OrganTable, p: ParameterSet) -> np.ndarray:
    """Per organ, extra colonisation odds at full priming: (niche_fold - 1) x exosome integrin."""
    integrin = np.array([traits.integrin_for(o) for o in organs.names]) * organs.integrin_target
    return (p["colonisation.niche_fold"] - 1.0) * integrin


def progression_prob(traits: Traits, organs: OrganTable, p: ParameterSet, priming=0.0, *, human: bool = True) -> np.ndarray:
    """Probability a micrometastasis progresses instead of regressing, shape (..., 2 classes, organs).

    Clusters carry ``colonisation.cluster_fold`` times the potential of single cells. ``human``
    applies the calibrated human soil hostility (off for the mouse assays it was defined on).
    """
    base = p["colonisation.progress_prob"] * (p["colonisation.human_scale"] if human else 1.0)
    s = soil_factor(traits, organs, p, priming, human=human)
    cls = np.array([1.0, p["colonisation.cluster_fold"]])
    return np.minimum(base * cls[:, None] * s[..., None, :], 1.0)


def dormancy_rates(traits: Traits, p: ParameterSet) -> tuple[float, float]:
    """(awakening, death) rates of a dormant solitary cell per day, untreated; ER+ cells sleep
    longer and persist longer (late recurrences are mostly ER+)."""
    wake = p["dormancy.awakening_rate_per_year"] * p["dormancy.er_awakening_fold"] ** traits.er
    death = p["dormancy.death_rate_per_year"] * p["dormancy.er_death_fold"] ** traits.er
    return wake / DAYS_PER_YEAR, death / DAYS_PER_YEAR
