"""Read a scenario from TOML (a file or a built-in name) and validate it before anything runs.

Every problem becomes a :class:`ScenarioError` naming the file, the key path, the value and
what is allowed; a file with several problems reports each (up to :data:`MAX_ERRORS`, in file
order) on its own line. The CLI prints them and exits with status 2. Things worth saying that
do not stop a run (an empty file, a local file that shadows a built-in name) are one-line
:class:`ScenarioWarning` messages, or go to ``load_scenario(..., on_warning=...)``.
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import stat
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from seedsoil.biology.bone import gamma as bone_gamma
from seedsoil.biology.growth import cells_to_diameter, diameter_to_cells
from seedsoil.params import ParameterSet, default_parameters
from seedsoil.scenario.model import Scenario

BUILTIN = ("default", "small")
MAX_ERRORS = 5
"""Most problems one ScenarioError lists (the first ones in file order); the rest are counted."""
MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read (a scenario is a few lines of TOML)."""


class ScenarioWarning(UserWarning):
    """A scenario that runs but may not be what was meant (one line: the file, then what happened)."""


def _line(source: str, key: str, value: object, allowed: str) -> str:
    where = f"{source}: {key}" if key else source
    shown = "" if value is _MISSING else f" = {value!r}"
    return f"{where}{shown}: {allowed}"


class ScenarioError(ValueError):
    """A scenario that cannot run: where it is, which key, what value, what is allowed.

    The fields name the first problem (in file order); ``errors`` lists every problem shown, one
    error each, and ``str(err)`` is their lines joined by newlines (one line for one problem).
    """

    def __init__(self, source: str, key: str, value: object, allowed: str,
                 more: Sequence[ScenarioError] = (), omitted: int = 0):
        self.source, self.key, self.value, self.allowed = source, key, value, allowed
        self.more, self.omitted = tuple(more), int(omitted)
        lines = [_line(source, key, value, allowed)] + [e.line for e in self.more]
        if self.omitted:
            lines.append(f"{source}: {self.omitted} more problem{'s' if self.omitted > 1 else ''} "
                         f"not shown (fix the ones above first)")
        super().__init__("\n".join(lines))

    @property
    def line(self) -> str:
        """The first problem as one line: ``FILE: KEY = VALUE: what is allowed``."""
        return _line(self.source, self.key, self.value, self.allowed)

    @property
    def errors(self) -> tuple[ScenarioError, ...]:
        """Every problem shown, in file order, each as a one-problem ScenarioError."""
        return (ScenarioError(self.source, self.key, self.value, self.allowed), *self.more)

    @classmethod
    def of(cls, errors: Sequence[ScenarioError]) -> ScenarioError:
        """One error for several problems (the first :data:`MAX_ERRORS` are shown)."""
        shown = [e for err in errors for e in err.errors][:MAX_ERRORS]
        total = sum(1 + err.omitted + len(err.more) for err in errors)
        first = shown[0]
        return cls(first.source, first.key, first.value, first.allowed, shown[1:], total - len(shown))

    def __reduce__(self):  # rebuilt from its fields when it crosses a process boundary
        return type(self), (self.source, self.key, self.value, self.allowed, self.more, self.omitted)


class _Missing(enum.Enum):
    """No value to show (a file-level problem); an enum member so it survives pickling."""

    MISSING = 0


_MISSING = _Missing.MISSING


def builtin_names() -> tuple[str, ...]:
    return BUILTIN


def _flatten(d: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, object]]:
    """Nested TOML tables under [parameters] to (dotted name, value), in file order."""
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _flatten(v, name + ".")
        else:
            yield name, v


def _lookup(data: object, loc: tuple) -> object:
    cur = data
    for part in loc:
        try:
            cur = cur[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


def _position(data: object, loc: tuple) -> tuple[int, ...]:
    """Where ``loc`` is in the parsed file, as indices into its (ordered) tables and arrays, so
    that problems sort in file order; a key that is not there sorts after its siblings."""
    pos: list[int] = []
    cur = data
    for part in loc:
        if isinstance(cur, Mapping):
            keys = list(cur)
            pos.append(keys.index(part) if part in cur else len(keys))
            cur = cur.get(part)
        elif isinstance(cur, (list, tuple)) and isinstance(part, int) and 0 <= part < len(cur):
            pos.append(part)
            cur = cur[part]
        else:
            break
    return tuple(pos)


def read_toml_spec(spec, builtins: tuple[str, ...], folder: str, kind: str, needs: str) -> tuple[dict, str, Path | None]:
    """(data, source, folder of the file) of a built-in ``kind`` file by name (package folder
    ``scenario/<folder>``) or of a TOML file by path; a missing or empty file is one ScenarioError."""
    from importlib import resources

    if isinstance(spec, str) and spec in builtins and not Path(spec).exists():
        source = f"<built-in {kind} {spec}>"
        text = (resources.files("seedsoil.scenario") / folder / f"{spec}.toml").read_text(encoding="utf-8")
        return _parse(text, source), source, None
    path = Path(spec)
    source = str(path)
    try:
        text = _read_file(path)
    except ScenarioError as err:
        if not path.exists():
            raise ScenarioError(source, "", _MISSING, f"no such file (built-in {kind}s: {', '.join(builtins)})") \
                from None
        raise err from None
    data = _parse(text, source)
    if not data:
        raise ScenarioError(source, "", _MISSING, f"the {kind} file is empty; it needs {needs}")
    return data, source, path.parent


def load_base_scenario(name: str, base_dir: Path | None, source: str):
    """(scenario, parameters) a trial or calibration file builds on: a built-in name, or a TOML
    path relative to that file's folder; a failure names the file's ``scenario`` key."""
    spec = name
    if base_dir is not None and spec.endswith(".toml") and not Path(spec).is_absolute():
        spec = str(base_dir / spec)
    try:
        return load_scenario(spec, on_warning=lambda _m: None)
    except ScenarioError as err:
        raise ScenarioError(source, "scenario", name, f"the base scenario cannot be loaded: {err.line}") from None


def validation_errors(err, data: object, source: str, top_keys: str) -> ScenarioError:
    """A pydantic ValidationError of a TOML file (trial, calibration) as one ScenarioError naming
    each bad key, its value and what is allowed; ``top_keys`` lists the keys of the top level."""
    errors = []
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key (allowed: {top_keys})" if len(loc) == 1 else "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif e["type"] == "literal_error":
            msg = f"must be {e.get('ctx', {}).get('expected', 'one of the allowed values')}"
        errors.append(ScenarioError(source, _loc_text(loc), _lookup(data, loc), msg))
    return ScenarioError.of(errors)


def _loc_text(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(str(p))
    return ".".join(parts)


def _annotation_at(loc: tuple) -> tuple[object, list] | None:
    """The type and constraints of the scenario field at ``loc`` (the Scenario model at ``()``)."""
    ann: object = Scenario
    meta: list = []
    for part in loc:
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
            field = ann.model_fields.get(part)
            if field is None:
                return None
            ann, meta = field.annotation, list(field.metadata)
        elif get_origin(ann) in (tuple, dict):
            ann, meta = get_args(ann)[0 if get_origin(ann) is tuple else -1], []
        else:
            return None
        while get_origin(ann) is Annotated:
            ann, *extra = get_args(ann)
            for m in extra:
                meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return ann, meta


def _bounds(loc: tuple) -> tuple[tuple[float, bool], tuple[float, bool]]:
    """((lower bound, included), (upper bound, included)) of the numeric scenario field at ``loc``;
    infinite (excluded) where the model sets none."""
    lo, hi = (-math.inf, False), (math.inf, False)
    found = _annotation_at(loc)
    for m in found[1] if found is not None else ():
        if isinstance(m, at.Ge):
            lo = (m.ge, True)
        elif isinstance(m, at.Gt):
            lo = (m.gt, False)
        elif isinstance(m, at.Le):
            hi = (m.le, True)
        elif isinstance(m, at.Lt):
            hi = (m.lt, False)
    return lo, hi


def field_bounds(loc: tuple) -> tuple[float, float]:
    """(lowest, highest) value the scenario model allows for the numeric field at ``loc``, e.g.
    ``("cohort", "age_max")``; -inf / inf where it sets no bound."""
    (lo, _), (hi, _) = _bounds(loc)
    return float(lo), float(hi)


def _field_range(loc: tuple) -> str:
    """The allowed interval of the numeric scenario field at ``loc`` ("[0, 1]", "(0, 40]"), or ""."""
    (lo, lo_in), (hi, hi_in) = _bounds(loc)
    if math.isinf(lo) and math.isinf(hi):
        return ""
    return f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


def _did_you_mean(loc: tuple) -> str:
    """A hint for the unknown key at ``loc``: the closest keys of its table, as for parameter names."""
    found = _annotation_at(loc[:-1])
    key = str(loc[-1])
    if found is None or not (isinstance(found[0], type) and issubclass(found[0], BaseModel)):
        return ""
    close = difflib.get_close_matches(key, list(found[0].model_fields), n=3, cutoff=0.6)
    if close:
        return f"; did you mean {', '.join(close)}?"
    if len(loc) == 1 and any(name.split(".")[0] == key for name in default_parameters()):
        return f"; did you mean parameters.{key}? (parameter overrides go under [parameters])"
    return ""


_NUMBER_ERRORS = ("float_type", "float_parsing", "int_type", "int_parsing", "finite_number",
                  "greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _from_validation(source: str, data: Mapping, e: Mapping) -> ScenarioError:
    """One pydantic error as a ScenarioError in the scenario's own words."""
    loc = tuple(e["loc"])
    value = _lookup(data, loc)
    kind, ctx = e["type"], e.get("ctx", {})
    msg = e["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        msg = "unknown key (not part of the scenario format; see README 'Scenarios')" + _did_you_mean(loc)
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
    """Validate a scenario given as a mapping; return it with its full parameter set.

    Every problem is collected; one :class:`ScenarioError` lists them in file order.
    """
    given = data
    data = dict(data)
    found: list[tuple[tuple[int, ...], ScenarioError]] = []  # (place in the file, problem)
    top = list(data)
    overrides: dict[str, object] = {}
    params_ok = True
    if "parameters" in data:
        raw = data["parameters"]
        if isinstance(raw, Mapping):
            for name, value in _flatten(raw):
                if name in overrides:  # the same parameter in both spellings: an error, not an overwrite
                    found.append(((top.index("parameters"), list(overrides).index(name)), ScenarioError(
                        source, f"parameters.{name}", value,
                        f"given twice (also = {overrides[name]!r}); set each parameter once")))
                    params_ok = False
                else:
                    overrides[name] = value
        else:
            found.append(((top.index("parameters"),), ScenarioError(
                source, "parameters", raw, "must be a table of parameter names to numbers")))
            params_ok = False
    names = list(overrides)

    def param_place(name: str) -> tuple[int, ...]:
        return (top.index("parameters") if "parameters" in top else len(top),
                names.index(name) if name in overrides else len(names))

    # The registry checks parameter overrides: its messages give each one's range and unit.
    checked, bad = default_parameters().check_overrides(overrides)
    for err in bad:
        found.append((param_place(err.name), ScenarioError(source, f"parameters.{err.name}", err.value, err.allowed)))
    params_ok = params_ok and not bad
    model_data = dict(data)
    if "parameters" in model_data:
        model_data["parameters"] = checked  # bad overrides are reported above, not twice
    try:
        scenario = Scenario.model_validate(model_data)
    except ValidationError as err:
        errors = err.errors()
        for e in errors:
            if e["type"] == "too_short" and any(_below(f["loc"], e["loc"]) for f in errors):
                continue  # an array whose items failed counts as too short: not a problem of its own
            found.append((_position(given, tuple(e["loc"])), _from_validation(source, data, e)))
    params = None
    if params_ok:
        params = default_parameters().with_overrides(checked)
        for name, value, allowed in _cross_checks(params):
            found.append((param_place(name), ScenarioError(source, f"parameters.{name}", value, allowed)))
    if found:
        found.sort(key=lambda pair: pair[0])  # stable: problems at one place keep their order
        raise ScenarioError.of([e for _, e in found])
    return scenario, params


def _below(loc: Sequence, parent: Sequence) -> bool:
    return len(loc) > len(parent) and tuple(loc[:len(parent)]) == tuple(parent)


def _cross_checks(p: ParameterSet) -> Iterator[tuple[str, float, str]]:
    """Constraints that involve more than one parameter: (parameter, value, what is allowed)."""
    if p["diagnosis.size_min_mm"] >= p["diagnosis.size_max_mm"]:
        yield ("diagnosis.size_min_mm", p["diagnosis.size_min_mm"],
               f"must be below diagnosis.size_max_mm ({p['diagnosis.size_max_mm']:g})")
    for organ in sorted({k.split(".")[1] for k in p if k.startswith("organ.")}):
        d, m = p[f"organ.{organ}.dormancy_share"], p[f"organ.{organ}.micromet_share"]
        if d + m > 1:
            yield (f"organ.{organ}.dormancy_share", d,
                   f"dormancy_share + micromet_share must not exceed 1 (micromet_share is {m:g})")
    if p["colony.death_rate_per_day"] >= p["colony.birth_rate_per_day"]:
        yield ("colony.death_rate_per_day", p["colony.death_rate_per_day"],
               f"must be below colony.birth_rate_per_day ({p['colony.birth_rate_per_day']:g}) or no colony can grow")
    largest = diameter_to_cells(p["diagnosis.size_max_mm"], p["cells.per_mm3"])
    if largest >= p["growth.carrying_capacity_cells"]:
        fits = float(cells_to_diameter(p["growth.carrying_capacity_cells"], p["cells.per_mm3"]))
        yield ("diagnosis.size_max_mm", p["diagnosis.size_max_mm"],
               f"a primary of this diameter ({largest:.3g} cells at cells.per_mm3 = {p['cells.per_mm3']:g}) "
               f"would exceed growth.carrying_capacity_cells ({p['growth.carrying_capacity_cells']:g}); "
               f"with that capacity diagnosis.size_max_mm must be below {fits:.3g}")
    if p["nodes.sentinel_count"] > p["nodes.count"]:
        yield ("nodes.sentinel_count", p["nodes.sentinel_count"], f"must not exceed nodes.count ({p['nodes.count']:g})")
    g11, g21, g12, g22 = (p[f"bone.{k}"] for k in ("g11", "g21", "g12", "g22"))
    gam = bone_gamma(g11, g21, g12, g22)
    if abs(gam) < GAMMA_MIN:
        yield ("bone.g11", g11,
               f"with bone.g21 = {g21:g}, bone.g12 = {g12:g} and bone.g22 = {g22:g} the bone model's "
               f"g12 g21 - (1 - g11)(1 - g22) is {gam:.3g}: its steady state (Komarova et al. 2003) is "
               f"undefined unless this is at least {GAMMA_MIN:g} away from 0")


GAMMA_MIN = 1e-3
"""Smallest |gamma| of the bone model accepted: its steady state raises ratios of rates to powers
1/gamma, which overflow as gamma nears 0."""


_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _is_devnull(st: os.stat_result) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and stat.S_ISCHR(null.st_mode) and st.st_rdev == null.st_rdev


def _not_regular(source: str, st: os.stat_result) -> ScenarioError:
    if stat.S_ISDIR(st.st_mode):
        return ScenarioError(source, "", _MISSING, "cannot read the file (it is a folder; give a TOML file)")
    kind = next((text for test, text in _FILE_KINDS if test(st.st_mode)), "not a plain file")
    return ScenarioError(source, "", _MISSING,
                         f"not a regular file (it is {kind}, which could block or never end); give a TOML file")


def _read_file(path: Path) -> str:
    """The text of a scenario file, checked before it is opened: a FIFO or a device would block
    or never end, so only a regular file (or the null device, read as empty) is read."""
    source = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(source, "", _MISSING, f"no such file (built-in scenarios: {', '.join(BUILTIN)})") from None
    except OSError as err:
        raise ScenarioError(source, "", _MISSING, f"cannot read the file ({err.strerror or err})") from None
    if _is_devnull(st):
        return ""
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(source, st)
    too_big = ScenarioError(source, "", _MISSING, f"the file is over {MAX_FILE_BYTES >> 20} MiB; "
                                                  "a scenario is a short TOML file")
    if st.st_size > MAX_FILE_BYTES:
        raise too_big
    try:  # non-blocking, and checked again once open, in case the file was replaced meanwhile
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(source, st)
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioError(source, "", _MISSING, f"cannot read the file ({err.__class__.__name__}: {err})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise too_big
    try:
        return raw.decode("utf-8-sig")  # a leading byte order mark (some editors write one) is dropped
    except UnicodeDecodeError as err:
        raise ScenarioError(source, "", _MISSING,
                            f"cannot read the file (UnicodeDecodeError: {err}); save it as UTF-8") from None


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(source, "", _MISSING, f"not valid TOML ({err})") from None


def load_builtin(name: str) -> tuple[Scenario, ParameterSet]:
    """Load a built-in scenario by name, whatever files are in the current folder."""
    source = f"<built-in scenario {name}>"
    if name not in BUILTIN:
        raise ScenarioError(source, "", _MISSING,
                            f"no such built-in scenario (built-in scenarios: {', '.join(BUILTIN)})")
    text = (resources.files("seedsoil.scenario") / "builtin" / f"{name}.toml").read_text(encoding="utf-8")
    return scenario_from_dict(_parse(text, source), source)


def load_scenario(spec: str | Path | None = None, *,
                  on_warning: Callable[[str], object] | None = None) -> tuple[Scenario, ParameterSet]:
    """Load a built-in scenario by name (default when None) or a TOML file by path.

    A file in the current folder named like a built-in (``small``) is used instead of the
    built-in, and an empty file runs the defaults as scenario "custom"; each says so in one line,
    given to ``on_warning`` (the CLI prints it) or else issued as a :class:`ScenarioWarning`.
    """
    def note(message: str) -> None:
        if on_warning is not None:
            on_warning(message)
        else:
            warnings.warn(message, ScenarioWarning, stacklevel=3)

    if spec is None:
        spec = "default"
    if isinstance(spec, str) and spec in BUILTIN:
        if not (os.path.exists(spec) and not os.path.isdir(spec)):
            return load_builtin(spec)
        note(f"{spec}: a file of this name is in the current folder and {spec!r} is also a built-in scenario; "
             f"using the file {Path(spec).resolve()} (rename it, or run from another folder, for the built-in)")
    path = Path(spec)
    source = str(path)
    data = _parse(_read_file(path), source)
    if not data:
        note(f'{source}: the scenario is empty (no settings), so the defaults run as scenario "custom"')
    scenario, params = scenario_from_dict(data, source)
    for message in _treatment_warnings(scenario, params, source):
        note(message)
    return scenario, params


def _treatment_warnings(scenario: Scenario, params: ParameterSet, source: str) -> Iterator[str]:
    """A therapy switched on for a cohort in which nobody can receive it runs, but is said."""
    shares = scenario.cohort.subtype_shares.model_dump()
    t = scenario.treatment
    kinds = {"anti_her2": "HER2-positive", "her2_tki": "HER2-positive", "endocrine": "hormone-receptor-positive"}
    probs = {
        "HER2-positive": sum(v * params[f"cohort.her2_positive_prob.{k}"] for k, v in shares.items()),
        "hormone-receptor-positive": sum(v * params[f"cohort.er_positive_prob.{k}"] for k, v in shares.items()),
    }
    for therapy, who in kinds.items():
        if t.choice(therapy) is True and probs[who] == 0:
            yield (f"{source}: treatment.{therapy} = true, but the cohort has no {who} patients "
                   f"(subtype shares and cohort.* receptor probabilities), so nobody receives it")
