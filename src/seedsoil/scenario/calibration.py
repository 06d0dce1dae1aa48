"""A calibration as data: the base scenario, the parameters to fit with their prior ranges, the
published targets to fit them to, and the ABC-SMC settings (particles, generations, cohort size).

A calibration is a TOML file (or a built-in name); :func:`load_calibration` checks it whole,
naming the file, the key, the value and what is allowed: unknown parameters or targets, empty
prior ranges, bounds outside a parameter's allowed range, too few particles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedsoil.params import ParameterSet
from seedsoil.scenario.load import _MISSING, ScenarioError, load_base_scenario, read_toml_spec, validation_errors
from seedsoil.scenario.model import Scenario

BUILTIN_CALIBRATIONS = ("site_soils",)
FITTABLE_KINDS = ("absolute", "relative", "range")
"""Tolerance kinds with a two-sided band, whose half-width scales a target's distance."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prior(_Strict):
    """A uniform prior on [low, high], on the value itself or on its logarithm."""

    low: Annotated[float, Field(allow_inf_nan=False)]
    high: Annotated[float, Field(allow_inf_nan=False)]
    scale: Literal["linear", "log"] = "linear"


class Abc(_Strict):
    """ABC-SMC settings: particles per generation, most generations, the tolerance to stop at."""

    particles: Annotated[int, Field(ge=2, le=100_000, strict=True)] = 40
    generations: Annotated[int, Field(ge=1, le=100, strict=True)] = 4
    min_epsilon: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


class Targets(_Strict):
    ids: Annotated[tuple[str, ...], Field(min_length=1)]


class CalibrationSpec(_Strict):
    """A whole calibration file."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    scenario: str = "default"
    patients: Annotated[int, Field(ge=500, le=10_000_000, strict=True)] = 5000
    seed: Annotated[int, Field(ge=0, strict=True)] = 20261121
    abc: Abc = Abc()
    parameters: Annotated[dict[str, Prior], Field(min_length=1)]
    targets: Targets


@dataclass(frozen=True)
class Calibration:
    """A validated calibration: its spec, where it came from, the base scenario and parameters,
    and the targets (:class:`seedsoil.analysis.targets.Target`) it fits."""

    spec: CalibrationSpec
    source: str
    scenario: Scenario
    params: ParameterSet
    targets: tuple

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.spec.parameters)


def calibration_from_dict(data: dict, source: str, base_dir: Path | None = None) -> Calibration:
    """Validate a calibration given as a mapping (every problem at once, one line each)."""
    from seedsoil.analysis.targets import DEFAULT_RUN, load_targets

    try:
        spec = CalibrationSpec.model_validate(data)
    except ValidationError as err:
        raise validation_errors(err, data, source,
                                "name, description, scenario, patients, seed, [abc], [parameters], [targets]") from None
    scenario, params = load_base_scenario(spec.scenario, base_dir, source)
    errors = []
    for name, prior in spec.parameters.items():
        key = f"parameters.{name}"
        if name not in params:
            errors.append(ScenarioError(source, key, _MISSING, params.unknown(name)))
            continue
        meta = params.meta(name)
        if meta.integer:
            errors.append(ScenarioError(source, key, _MISSING, "is a whole number; calibrate continuous parameters"))
        elif not prior.low < prior.high:
            errors.append(ScenarioError(source, f"{key}.high", prior.high,
                                        f"the prior range is empty: high must be above low ({prior.low:g})"))
        elif prior.low < meta.minimum or prior.high > meta.maximum:
            errors.append(ScenarioError(source, key, f"[{prior.low:g}, {prior.high:g}]",
                                        f"the prior must lie within the parameter's allowed range "
                                        f"[{meta.minimum:g}, {meta.maximum:g}] {meta.unit}"))
        elif prior.scale == "log" and prior.low <= 0:
            errors.append(ScenarioError(source, f"{key}.low", prior.low, "a log-scale prior needs low above 0"))
    known = {t.target_id: t for t in load_targets()}
    chosen = []
    for i, tid in enumerate(spec.targets.ids):
        t = known.get(tid)
        if t is None:
            errors.append(ScenarioError(source, f"targets.ids[{i}]", tid,
                                        "unknown target (see src/seedsoil/analysis/targets.csv or `seedsoil validate`)"))
        elif t.family != "cohort" or tuple(t.runs) != (DEFAULT_RUN,):
            errors.append(ScenarioError(source, f"targets.ids[{i}]", tid,
                                        f"reads the runs {', '.join(t.runs)}; a calibration simulates its scenario "
                                        f"once, so only cohort targets of the {DEFAULT_RUN!r} run can be fitted"))
        elif t.tolerance_kind not in FITTABLE_KINDS:
            errors.append(ScenarioError(source, f"targets.ids[{i}]", tid,
                                        f"has a one-sided tolerance ({t.tolerance_kind}); fit targets with a band "
                                        f"({', '.join(FITTABLE_KINDS)})"))
        else:
            chosen.append(t)
    if len(set(spec.targets.ids)) != len(spec.targets.ids):
        errors.append(ScenarioError(source, "targets.ids", _MISSING, "a target is named twice"))
    if errors:
        raise ScenarioError.of(errors)
    for t in chosen:
        lo, hi = t.acceptance
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):  # pragma: no cover - table checks bands
            raise ScenarioError(source, "targets.ids", t.target_id, "has no finite acceptance band")
    return Calibration(spec=spec, source=source, scenario=scenario, params=params, targets=tuple(chosen))


def load_calibration(spec: str | Path) -> Calibration:
    """A built-in calibration by name or a calibration TOML file by path."""
    data, source, folder = read_toml_spec(spec, BUILTIN_CALIBRATIONS, "calibrations", "calibration",
                                          "name, [parameters] and [targets]")
    return calibration_from_dict(data, source, folder)
