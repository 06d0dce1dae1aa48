"""Every number the model uses, as data: value, unit, allowed range, source and confidence.

The defaults ship as CSV files in ``seedsoil/params/data``; a :class:`ParameterSet` is an
immutable mapping from dotted names (``organ.liver.extravasation_ease``) to float values
that also keeps each value's metadata. A parameter the model uses as a count (``nodes.count``)
is marked ``yes`` in the optional ``integer`` column; an override of it must be a whole number.

>>> p = default_parameters()
>>> p["circulation.ctc_half_life_h"]
1.5
>>> p.meta("circulation.ctc_half_life_h").unit
'hour'
>>> "nodes.count" in p.integers
True
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

CONFIDENCE_LEVELS = ("verified", "recalled", "estimated", "calibrated")
INTEGER_FLAGS = {"yes": True, "no": False, "": False}
"""Values of the optional ``integer`` column of the data files (absent or empty: not an integer)."""
DATA_FILES = ("parameters.csv", "organs.csv", "subtypes.csv", "assay.csv")


class ParameterError(ValueError):
    """A parameter name or value that the registry does not allow."""

    def __init__(self, name: str, value: object, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} = {value!r}: {allowed}")

    def __reduce__(self):  # rebuilt from its fields when it crosses a process boundary
        return type(self), (self.name, self.value, self.allowed)


@dataclass(frozen=True)
class Parameter:
    """One model parameter with its provenance; ``minimum``/``maximum`` bound the value and
    ``integer`` says that it is a count (only whole numbers are allowed)."""

    name: str
    value: float
    unit: str
    minimum: float
    maximum: float
    source: str
    confidence: str
    description: str
    integer: bool = False

    def allowed(self) -> str:
        """What this parameter allows, as said in error messages: "a number in [1, 60] nodes"."""
        kind = "a whole number" if self.integer else "a number"
        return f"{kind} in [{self.minimum:g}, {self.maximum:g}] {self.unit}"

    def check(self, value: object) -> float:
        """Return ``value`` as float if allowed for this parameter, else raise ParameterError."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(self.name, value, f"must be {self.allowed()}")
        try:
            v = float(value)
        except OverflowError:  # an integer too large for a float (hundreds of digits)
            raise ParameterError(self.name, f"{str(value)[:12]}... ({len(str(value))} digits)",
                                 f"must be in [{self.minimum:g}, {self.maximum:g}] {self.unit}") from None
        if not math.isfinite(v) or not (self.minimum <= v <= self.maximum) or (self.integer and not v.is_integer()):
            raise ParameterError(self.name, value, f"must be {self.allowed()}" if self.integer
                                 else f"must be in [{self.minimum:g}, {self.maximum:g}] {self.unit}")
        return v


class ParameterSet(Mapping[str, float]):
    """Immutable mapping name -> value with metadata; build variants with :meth:`with_overrides`."""

    def __init__(self, parameters: Mapping[str, Parameter]):
        self._p = dict(parameters)
        self._groups: dict[str, dict[str, float]] = {}

    def __getitem__(self, name: str) -> float:
        try:
            return self._p[name].value
        except KeyError:
            raise KeyError(f"unknown parameter {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._p)

    def __len__(self) -> int:
        return len(self._p)

    def meta(self, name: str) -> Parameter:
        """The full record (unit, range, source, confidence) of one parameter."""
        if name not in self._p:
            raise ParameterError(name, None, self.unknown(name))
        return self._p[name]

    def unknown(self, name: str) -> str:
        """What is allowed instead of an unknown ``name``: the organs or subtypes it could
        name, or the closest parameter names."""
        parts = name.split(".")
        for head in ("organ", "trait"):
            if parts[0] == head and len(parts) == 3:
                known = sorted({k.split(".")[1] for k in self._p if k.startswith(head + ".")})
                if parts[1] not in known:
                    what = "organ" if head == "organ" else "subtype"
                    return f"unknown {what} {parts[1]!r}; allowed: {', '.join(known)}"
        close = difflib.get_close_matches(name, list(self._p), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown parameter (see `seedsoil params`){hint}"

    def records(self) -> list[Parameter]:
        return list(self._p.values())

    @property
    def integers(self) -> frozenset[str]:
        """Names of the parameters that are counts (the ``integer`` column): whole numbers only."""
        return frozenset(k for k, p in self._p.items() if p.integer)

    def check_overrides(self, overrides: Mapping[str, object]) -> tuple[dict[str, float], list[ParameterError]]:
        """Check every override: the allowed ones as floats, and one error for each other one,
        in the order given (so that a scenario can report all its mistakes at once)."""
        good: dict[str, float] = {}
        errors: list[ParameterError] = []
        for name, value in overrides.items():
            try:
                if name not in self._p:
                    raise ParameterError(name, value, self.unknown(name))
                good[name] = self._p[name].check(value)
            except ParameterError as err:
                errors.append(err)
        return good, errors

    def with_overrides(self, overrides: Mapping[str, object]) -> ParameterSet:
        """A copy with some values replaced; each name must exist and each value be in range
        (else the first problem is raised as a :class:`ParameterError`)."""
        good, errors = self.check_overrides(overrides)
        if errors:
            raise errors[0]
        new = dict(self._p)
        for name, value in good.items():
            new[name] = replace(new[name], value=value)
        return ParameterSet(new)

    def group(self, prefix: str) -> dict[str, float]:
        """Values under ``prefix.`` keyed by the remainder of the name."""
        pre = prefix.rstrip(".") + "."
        if pre not in self._groups:  # the set is immutable, so a group never changes
            self._groups[pre] = {k[len(pre):]: p.value for k, p in self._p.items() if k.startswith(pre)}
        return dict(self._groups[pre])

    def digest(self) -> str:
        """SHA-256 of the sorted name=value pairs: the parameter hash in run manifests."""
        h = hashlib.sha256()
        for k in sorted(self._p):
            h.update(f"{k}={self._p[k].value!r}\n".encode())
        return h.hexdigest()

    def to_frame(self):
        """All parameters as a pandas DataFrame (one row each)."""
        import pandas as pd

        return pd.DataFrame([p.__dict__ for p in self._p.values()])


def _read_csv(text: str, origin: str) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    for row in csv.DictReader(text.splitlines()):
        p = Parameter(
            name=row["name"],
            value=float(row["value"]),
            unit=row["unit"],
            minimum=float(row["min"]),
            maximum=float(row["max"]),
            source=row["source"],
            confidence=row["confidence"],
            description=row["description"],
            integer=_integer_flag(row.get("integer"), origin, row["name"]),
        )
        if p.confidence not in CONFIDENCE_LEVELS:
            raise ValueError(f"{origin}: {p.name}: confidence {p.confidence!r} not in {CONFIDENCE_LEVELS}")
        if p.integer and not all(float(x).is_integer() for x in (p.minimum, p.maximum)):
            raise ValueError(f"{origin}: {p.name}: an integer parameter needs whole-number bounds")
        p.check(p.value)
        if p.name in out:
            raise ValueError(f"{origin}: duplicate parameter {p.name}")
        out[p.name] = p
    return out


def _integer_flag(text: str | None, origin: str, name: str) -> bool:
    flag = (text or "").strip().lower()
    if flag not in INTEGER_FLAGS:
        raise ValueError(f"{origin}: {name}: integer {text!r} not in {tuple(k for k in INTEGER_FLAGS if k)} or empty")
    return INTEGER_FLAGS[flag]


@lru_cache(maxsize=1)
def default_parameters() -> ParameterSet:
    """The shipped default parameter set (read once)."""
    params: dict[str, Parameter] = {}
    pkg = resources.files("seedsoil.params") / "data"
    for fname in DATA_FILES:
        chunk = _read_csv((pkg / fname).read_text(encoding="utf-8"), fname)
        dup = set(chunk) & set(params)
        if dup:
            raise ValueError(f"{fname}: parameters defined twice: {sorted(dup)}")
        params.update(chunk)
    return ParameterSet(params)
