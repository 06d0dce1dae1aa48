"""Read a scenario from TOML (a file or a built-in name) and validate it before anything runs.

Every problem becomes one :class:`ScenarioError` naming the file, the key path, the value
and what is allowed; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from seedsoil.biology.growth import cells_to_diameter, diameter_to_cells
from seedsoil.params import ParameterError, ParameterSet, default_parameters
from seedsoil.scenario.model import Scenario

BUILTIN = ("default", "small")


class ScenarioError(ValueError):
    """A scenario that cannot run: where it is, which key, what value, what is allowed."""

    def __init__(self, source: str, key: str, value: object, allowed: str):
        self.source, self.key, self.value, self.allowed = source, key, value, allowed
        where = f"{source}: {key}" if key else source
        shown = "" if value is _MISSING else f" = {value!r}"
        super().__init__(f"{where}{shown}: {allowed}")

    def __reduce__(self):  # rebuilt from its fields when it crosses a process boundary
        return type(self), (self.source, self.key, self.value, self.allowed)


class _Missing(enum.Enum):
    """No value to show (a file-level problem); an enum member so it survives pickling."""

    MISSING = 0


_MISSING = _Missing.MISSING


def builtin_names() -> tuple[str, ...]:
    return BUILTIN


def _flatten(d: Mapping[str, object], source: str, prefix: str = "") -> dict[str, object]:
    """Nested TOML tables under [parameters] to dotted names (both spellings are allowed).

    The same parameter given in both spellings is an error, not a silent overwrite.
    """
    out: dict[str, object] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        items = _flatten(v, source, name + ".").items() if isinstance(v, Mapping) else [(name, v)]
        for n, x in items:
            if n in out:
                raise ScenarioError(source, f"parameters.{n}", x,
                                    f"given twice (also = {out[n]!r}); set each parameter once")
            out[n] = x
    return out


def _lookup(data: object, loc: tuple) -> object:
    cur = data
    for part in loc:
        try:
            cur = cur[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


def _loc_text(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(str(p))
    return ".".join(parts)


def _field_range(loc: tuple) -> str:
    """The allowed interval of the numeric scenario field at ``loc`` ("[0, 1]", "(0, 40]"), or ""."""
    ann: object = Scenario
    meta: list = []
    for part in loc:
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
            field = ann.model_fields.get(part)
            if field is None:
                return ""
            ann, meta = field.annotation, list(field.metadata)
        elif get_origin(ann) in (tuple, dict):
            ann, meta = get_args(ann)[0 if get_origin(ann) is tuple else -1], []
        else:
            return ""
        while get_origin(ann) is Annotated:
            ann, *extra = get_args(ann)
            for m in extra:
                meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    lo, hi = ("(", "-inf"), (")", "inf")
    for m in meta:
        if isinstance(m, at.Ge):
            lo = ("[", f"{m.ge:g}")
        elif isinstance(m, at.Gt):
            lo = ("(", f"{m.gt:g}")
        elif isinstance(m, at.Le):
            hi = ("]", f"{m.le:g}")
        elif isinstance(m, at.Lt):
            hi = (")", f"{m.lt:g}")
    if lo[1] == "-inf" and hi[1] == "inf":
        return ""
    return f"{lo[0]}{lo[1]}, {hi[1]}{hi[0]}"


_NUMBER_ERRORS = ("float_type", "float_parsing", "int_type", "int_parsing", "finite_number",
                  "greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _from_validation(source: str, data: Mapping, err: ValidationError) -> ScenarioError:
    e = err.errors()[0]
    loc = tuple(e["loc"])
    value = _lookup(data, loc)
    kind, ctx = e["type"], e.get("ctx", {})
    msg = e["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        msg = "unknown key (not part of the scenario format; see README 'Scenarios')"
    elif kind == "missing":
        msg = "required key is missing"
    elif kind in _NUMBER_ERRORS:
        interval = _field_range(loc)
        msg = f"must be a number in {interval}" if interval else "must be a number"
    elif kind == "too_short" and loc == ("clones",):
        msg = "must list at least one clone (a [[clones]] table with name and share)"
    elif kind == "too_short":
        msg = f"must have at least {ctx.get('min_length', 1)} entries"
    elif kind == "literal_error":
        msg = f"must be {ctx.get('expected', 'one of the allowed values')}"
    elif kind == "string_type":
        msg = "must be a string"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = "must be a table"
    elif kind in ("tuple_type", "list_type"):
        msg = "must be an array" + (" of tables ([[clones]])" if loc == ("clones",) else "")
    return ScenarioError(source, _loc_text(loc), value, msg)


def scenario_from_dict(data: Mapping, source: str = "<scenario>") -> tuple[Scenario, ParameterSet]:
    """Validate a scenario given as a mapping; return it with its full parameter set."""
    data = dict(data)
    if "parameters" in data:
        if not isinstance(data["parameters"], Mapping):
            raise ScenarioError(source, "parameters", data["parameters"], "must be a table of parameter names to numbers")
        data["parameters"] = _flatten(data["parameters"], source)
    # The registry checks parameter overrides first: its messages give each one's range and unit.
    try:
        params = default_parameters().with_overrides(data.get("parameters", {}))
    except ParameterError as err:
        raise ScenarioError(source, f"parameters.{err.name}", err.value, err.allowed) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise _from_validation(source, data, err) from None
    _cross_checks(source, params)
    return scenario, params


def _cross_checks(source: str, p: ParameterSet) -> None:
    """Constraints that involve more than one parameter."""
    if p["diagnosis.size_min_mm"] >= p["diagnosis.size_max_mm"]:
        raise ScenarioError(source, "parameters.diagnosis.size_min_mm", p["diagnosis.size_min_mm"],
                            f"must be below diagnosis.size_max_mm ({p['diagnosis.size_max_mm']:g})")
    for organ in {k.split(".")[1] for k in p if k.startswith("organ.")}:
        d, m = p[f"organ.{organ}.dormancy_share"], p[f"organ.{organ}.micromet_share"]
        if d + m > 1:
            raise ScenarioError(source, f"parameters.organ.{organ}.dormancy_share", d,
                                f"dormancy_share + micromet_share must not exceed 1 (micromet_share is {m:g})")
    if p["colony.death_rate_per_day"] >= p["colony.birth_rate_per_day"]:
        raise ScenarioError(source, "parameters.colony.death_rate_per_day", p["colony.death_rate_per_day"],
                            f"must be below colony.birth_rate_per_day ({p['colony.birth_rate_per_day']:g}) or no colony can grow")
    largest = diameter_to_cells(p["diagnosis.size_max_mm"], p["cells.per_mm3"])
    if largest >= p["growth.carrying_capacity_cells"]:
        fits = float(cells_to_diameter(p["growth.carrying_capacity_cells"], p["cells.per_mm3"]))
        raise ScenarioError(source, "parameters.diagnosis.size_max_mm", p["diagnosis.size_max_mm"],
                            f"a primary of this diameter ({largest:.3g} cells at cells.per_mm3 = {p['cells.per_mm3']:g}) "
                            f"would exceed growth.carrying_capacity_cells ({p['growth.carrying_capacity_cells']:g}); "
                            f"with that capacity diagnosis.size_max_mm must be below {fits:.3g}")
    if p["nodes.sentinel_count"] > p["nodes.count"]:
        raise ScenarioError(source, "parameters.nodes.sentinel_count", p["nodes.sentinel_count"],
                            f"must not exceed nodes.count ({p['nodes.count']:g})")


def load_scenario(spec: str | Path | None = None) -> tuple[Scenario, ParameterSet]:
    """Load a built-in scenario by name (default when None) or a TOML file by path."""
    if spec is None:
        spec = "default"
    text: str
    if isinstance(spec, str) and spec in BUILTIN:
        source = f"<built-in scenario {spec}>"
        text = (resources.files("seedsoil.scenario") / "builtin" / f"{spec}.toml").read_text(encoding="utf-8")
    else:
        path = Path(spec)
        source = str(path)
        if not path.exists():
            raise ScenarioError(source, "", _MISSING,
                                f"no such file (built-in scenarios: {', '.join(BUILTIN)})")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ScenarioError(source, "", _MISSING, f"cannot read the file ({err.__class__.__name__}: {err})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(source, "", _MISSING, f"not valid TOML ({err})") from None
    return scenario_from_dict(data, source)
