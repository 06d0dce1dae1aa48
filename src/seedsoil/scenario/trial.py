"""A virtual trial as data: who is eligible, how many are randomised and how, how long they are
followed, the arms (therapy or scenario changes on one base scenario) and the endpoints.

A trial is a TOML file (or a built-in name, listed by ``seedsoil trials``); :func:`load_trial`
validates it and every arm's scenario, naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seedsoil.params import ParameterSet
from seedsoil.scenario.load import (ScenarioError, load_base_scenario, read_toml_spec, scenario_from_dict,
                                   validation_errors)
from seedsoil.scenario.model import HISTOLOGIES, SUBTYPES, Scenario

ENDPOINTS = ("dfs", "dmfs", "os", "brain_mfs", "bone_mfs", "sre_fs")
"""Trial endpoints: disease-free, distant-metastasis-free and overall survival, brain- and
bone-metastasis-free survival (a first metastasis found there, or death) and skeletal-event-free
survival (a first skeletal-related event, or death)."""
STAGES = ("I", "II", "III", "IA", "IB", "IIA", "IIB", "IIIA", "IIIB", "IIIC")
"""Stages a trial may enrol (a roman numeral takes all its letters); stage IV is never eligible
for an adjuvant trial."""
MAX_FOLLOW_UP_YEARS = 40.0
"""Accrual plus follow-up may not exceed the longest horizon a scenario allows (years)."""
BUILTIN_TRIALS = ("denosumab_adjuvant", "her2_brain_penetrant_tki", "cxcr4_antagonist", "antiplatelet",
                  "endocrine_5_vs_10_years")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Eligibility(_Strict):
    """Who may enter: patients without distant metastases at diagnosis, filtered by what is known
    before randomisation."""

    subtypes: tuple[Literal["luminal_a", "luminal_b", "her2", "triple_negative"], ...] = SUBTYPES
    histology: tuple[Literal["idc", "ilc"], ...] = HISTOLOGIES
    menopausal: Literal["any", "pre", "post"] = "any"
    er: Literal["any", "positive", "negative"] = "any"
    her2: Literal["any", "positive", "negative"] = "any"
    stages: tuple[Literal[STAGES], ...] = ("I", "II", "III")
    age_min: Annotated[float, Field(ge=18, le=110, allow_inf_nan=False)] = 18.0
    age_max: Annotated[float, Field(ge=18, le=110, allow_inf_nan=False)] = 110.0

    @model_validator(mode="after")
    def _ages(self):
        if self.age_min >= self.age_max:
            raise ValueError(f"age_min ({self.age_min:g}) must be below age_max ({self.age_max:g})")
        return self


class Design(_Strict):
    """Sample size, randomisation ratio (one weight per arm), accrual and follow-up (years)."""

    patients: Annotated[int, Field(ge=2, le=1_000_000, strict=True)] = 2000
    ratio: tuple[Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)], ...] = ()
    accrual_years: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False)] = 3.0
    follow_up_years: Annotated[float, Field(gt=0, le=MAX_FOLLOW_UP_YEARS, allow_inf_nan=False)] = 5.0
    endpoints: tuple[Literal[ENDPOINTS], ...] = ("dfs", "os")

    @model_validator(mode="after")
    def _horizon(self):
        if self.accrual_years + self.follow_up_years > MAX_FOLLOW_UP_YEARS:
            raise ValueError(f"accrual_years + follow_up_years = {self.accrual_years + self.follow_up_years:g}; "
                             f"at most {MAX_FOLLOW_UP_YEARS:g} years")
        if not self.endpoints:
            raise ValueError("endpoints must name at least one of " + ", ".join(ENDPOINTS))
        if len(set(self.endpoints)) != len(self.endpoints):
            raise ValueError("endpoints must not repeat")
        return self


class Arm(_Strict):
    """One arm: its name and the treatment keys and parameter overrides that differ from the base
    scenario (the first arm is the control)."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-+ ]+$")]
    description: str = ""
    treatment: dict[str, object] = {}
    parameters: dict[str, float] = {}


class TrialSpec(_Strict):
    """A whole trial file."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    scenario: str = "default"
    eligibility: Eligibility = Eligibility()
    design: Design = Design()
    arms: Annotated[tuple[Arm, ...], Field(min_length=2, max_length=8)]

    @field_validator("arms")
    @classmethod
    def _unique(cls, v: tuple[Arm, ...]) -> tuple[Arm, ...]:
        names = [a.name for a in v]
        if len(set(names)) != len(names):
            raise ValueError("arm names must be unique")
        return v

    @model_validator(mode="after")
    def _ratio(self):
        if self.design.ratio and len(self.design.ratio) != len(self.arms):
            raise ValueError(f"design.ratio has {len(self.design.ratio)} weights for {len(self.arms)} arms; "
                             "give one per arm (or none for equal allocation)")
        return self

    @property
    def weights(self) -> tuple[float, ...]:
        return self.design.ratio or (1.0,) * len(self.arms)


@dataclass(frozen=True)
class Trial:
    """A validated trial: its spec, where it came from, and each arm's scenario and parameters
    (the base scenario with the arm's changes, followed for accrual plus follow-up)."""

    spec: TrialSpec
    source: str
    arms: tuple[tuple[Scenario, ParameterSet], ...]

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.spec.arms)


def builtin_trials() -> tuple[str, ...]:
    return BUILTIN_TRIALS


def trial_from_dict(data: dict, source: str, base_dir: Path | None = None) -> Trial:
    """Validate a trial given as a mapping (every structural problem in one ScenarioError), then
    build each arm's scenario; an arm's bad treatment key or parameter names the arm."""
    try:
        spec = TrialSpec.model_validate(data)
    except ValidationError as err:
        raise validation_errors(err, data, source,
                                "name, description, scenario, [eligibility], [design], [[arms]]") from None
    base, _ = load_base_scenario(spec.scenario, base_dir, source)
    horizon = spec.design.accrual_years + spec.design.follow_up_years
    arms, errors = [], []
    for i, arm in enumerate(spec.arms):
        d = base.model_dump(mode="python")
        d["name"] = f"{spec.name}: {arm.name}"
        d["cohort"]["follow_up_years"] = horizon
        d["treatment"] = {**d["treatment"], **arm.treatment}
        d["parameters"] = {**d["parameters"], **arm.parameters}
        try:
            arms.append(scenario_from_dict(d, f"{source} arms[{i}] ({arm.name})"))
        except ScenarioError as err:
            errors.append(err)
    if errors:
        raise ScenarioError.of(errors)
    return Trial(spec=spec, source=source, arms=tuple(arms))


def load_trial(spec: str | Path) -> Trial:
    """A built-in trial by name or a trial TOML file by path."""
    data, source, folder = read_toml_spec(spec, BUILTIN_TRIALS, "trials", "trial", "name and [[arms]]")
    return trial_from_dict(data, source, folder)
