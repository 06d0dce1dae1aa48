"""The scenario: a validated set of overrides on the default parameters plus the cohort mix.

A scenario is what a user writes in TOML; :func:`seedsoil.scenario.load.load_scenario`
turns a file (or a built-in name) into a :class:`Scenario`, rejecting anything unknown.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator

SUBTYPES = ("luminal_a", "luminal_b", "her2", "triple_negative")
HISTOLOGIES = ("idc", "ilc")
TRAITS = (
    "ecad", "cxcr4", "her2", "er", "emt", "mmp", "pthrp", "platelet_binding",
    "brain_metabolism", "nrg_response", "bbb_crossing", "integrin_lung", "integrin_liver", "integrin_brain",
)
# strict=True: a TOML string ("0.5") or boolean (true) is not a number; ints are still accepted.
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]
Trait = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]
SHARE_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SubtypeShares(_Strict):
    """Share of each molecular subtype in the cohort; must sum to 1."""

    luminal_a: Probability = 0.50
    luminal_b: Probability = 0.25
    her2: Probability = 0.12
    triple_negative: Probability = 0.13

    @model_validator(mode="after")
    def _sums_to_one(self):
        shares = self.model_dump()
        total = sum(shares.values())
        if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
            listed = ", ".join(f"{k}={v:.10g}" for k, v in shares.items())
            raise ValueError(f"subtype shares sum to {total:.10g} ({listed}; unlisted subtypes keep their defaults); "
                             "they must sum to 1")
        return self


class IlcShare(_Strict):
    """Probability that a tumour of each subtype is invasive lobular carcinoma."""

    luminal_a: Probability = 0.15
    luminal_b: Probability = 0.12
    her2: Probability = 0.03
    triple_negative: Probability = 0.02


class Cohort(_Strict):
    """Who the patients are and how long they are followed (years, mm)."""

    subtype_shares: SubtypeShares = SubtypeShares()
    ilc_share: IlcShare = IlcShare()
    age_mean: Annotated[float, Field(ge=18, le=100, strict=True, allow_inf_nan=False)] = 61.0
    age_sd: Annotated[float, Field(ge=0, le=40, strict=True, allow_inf_nan=False)] = 13.0
    age_min: Annotated[float, Field(ge=18, le=100, strict=True, allow_inf_nan=False)] = 25.0
    age_max: Annotated[float, Field(ge=18, le=110, strict=True, allow_inf_nan=False)] = 90.0
    follow_up_years: Annotated[float, Field(gt=0, le=40, strict=True, allow_inf_nan=False)] = 10.0

    @model_validator(mode="after")
    def _age_order(self):
        if not self.age_min < self.age_max:
            raise ValueError(f"age_min ({self.age_min:g}) must be below age_max ({self.age_max:g})")
        return self


class Clone(_Strict):
    """A clone of the primary: its share of tumour cells and traits that differ from the subtype's."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    share: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False, strict=True)]
    traits: dict[str, Trait] = {}

    @field_validator("traits")
    @classmethod
    def _known_traits(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(v) - set(TRAITS))
        if bad:
            raise ValueError(f"unknown trait {bad[0]!r}; allowed: {', '.join(TRAITS)}")
        return v


ERAS = ("1990", "modern")
"""Treatment eras: what Kennecke et al. 2010's 1986-92 cohort received, and 2010s care (ESME 2008-2016)."""
ADJUVANT_THERAPIES = ("endocrine", "chemotherapy", "anti_her2", "her2_tki", "bone_agent", "radiotherapy")
SURGERIES = ("bcs", "mastectomy")


def _choice(v: object) -> str | bool:
    if v == "guideline" or isinstance(v, bool):
        return v
    raise ValueError('must be "guideline", true or false')


Choice = Annotated[str | bool, PlainValidator(_choice)]
"""A therapy given by the era's guideline (by subtype, stage, age, menopause), to everyone it can
apply to (``true``), or to nobody (``false``)."""


class Treatment(_Strict):
    """Who gets which therapy: the era's guideline unless overridden (durations in years)."""

    era: Literal["1990", "modern"] = "modern"
    adjuvant: Literal["guideline", "none"] = "guideline"
    endocrine: Choice = "guideline"
    chemotherapy: Choice = "guideline"
    anti_her2: Choice = "guideline"
    her2_tki: Choice = "guideline"
    bone_agent: Choice = "guideline"
    radiotherapy: Choice = "guideline"
    surgery: Literal["guideline", "bcs", "mastectomy"] = "guideline"
    endocrine_years: Annotated[float, Field(ge=0, le=15, strict=True, allow_inf_nan=False)] = 5.0
    metastatic: Literal["guideline", "none"] = "guideline"
    metastatic_bone_agent: Literal["guideline", "denosumab", "zoledronic_acid", "none"] = "guideline"

    def choice(self, therapy: str) -> str | bool:
        """``"guideline"``, True or False for one adjuvant therapy (``adjuvant = "none"`` wins)."""
        if therapy not in ADJUVANT_THERAPIES:
            raise ValueError(f"unknown therapy {therapy!r}; allowed: {', '.join(ADJUVANT_THERAPIES)}")
        return False if self.adjuvant == "none" else getattr(self, therapy)


MAX_CTC_DRAWS = 32
"""Blood draws per patient at most (``[measurements] ctc_draw_days``)."""


class Measurements(_Strict):
    """What the clinic measures beyond the pathology report: blood draws for circulating tumour
    cells (7.5 mL, CellSearch) on these days from diagnosis (day 0: before surgery), written to
    ctc_draws.parquet; sorted, duplicates dropped."""

    ctc_draw_days: Annotated[tuple[Annotated[float, Field(ge=0, le=40 * 365.25, allow_inf_nan=False)], ...],
                             Field(max_length=MAX_CTC_DRAWS)] = ()

    @field_validator("ctc_draw_days")
    @classmethod
    def _sorted(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(sorted(set(float(d) for d in v)))


def with_ctc_draw_days(scenario: Scenario, days) -> Scenario:
    """``scenario`` with blood draws on ``days`` (days from diagnosis), or a ValueError saying
    which day is not allowed."""
    days = tuple(days)
    for d in days:
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d):
            raise ValueError(f"CTC draw day {d!r} is not a number of days from diagnosis")
        if d < 0:
            raise ValueError(f"CTC draw day {d:g} is negative: days are counted from diagnosis (0 = before surgery)")
        if d > 40 * 365.25:
            raise ValueError(f"CTC draw day {d:g} is beyond 40 years of follow-up (14610 days)")
    if len(days) > MAX_CTC_DRAWS:
        raise ValueError(f"{len(days)} CTC draw days given; at most {MAX_CTC_DRAWS}")
    return scenario.model_copy(update={"measurements": Measurements(ctc_draw_days=days)})


def _default_clones() -> tuple[Clone, ...]:
    return (Clone(name="main", share=1.0),)


class Scenario(_Strict):
    """A complete, validated scenario: name, cohort mix, clones and parameter overrides."""

    name: str = "custom"
    description: str = ""
    engine: str = "fast"
    cohort: Cohort = Cohort()
    treatment: Treatment = Treatment()
    measurements: Measurements = Measurements()
    clones: Annotated[tuple[Clone, ...], Field(min_length=1)] = Field(default_factory=_default_clones)
    parameters: dict[str, float] = {}

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        from seedsoil.engine.registry import engine_names  # the one registry; loaded when validating

        if v not in engine_names():
            raise ValueError(f"unknown engine {v!r}; allowed: {', '.join(map(repr, engine_names()))}")
        return v

    @field_validator("clones")
    @classmethod
    def _clone_shares(cls, v: tuple[Clone, ...]) -> tuple[Clone, ...]:
        total = sum(c.share for c in v)
        if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
            raise ValueError(f"clone shares sum to {total:.10g}; they must sum to 1")
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError("clone names must be unique")
        return v
