"""Reading a table of real patients for virtual twins: required and optional columns, accepted
spellings, and one clear error per bad cell naming the row and the column (or, when asked, the
row skipped with one warning). Rows are numbered from 0 (``row_id``), as in the output."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seedsoil.analysis.survival import DAYS_PER_YEAR
from seedsoil.clinic.staging import N_CATEGORIES
from seedsoil.engine.covariates import UNKNOWN, Observed, subtype_posterior
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario
from seedsoil.scenario.load import field_bounds
from seedsoil.scenario.model import HISTOLOGIES

REQUIRED = ("tumor_size_mm", "positive_nodes")
BOOLEANS = ("er", "pr", "her2", "endocrine_therapy", "chemotherapy", "anti_her2", "radiotherapy")
OPTIONAL = ("age", "menopausal", "grade", "histology", "follow_up_days", "pn") + BOOLEANS
THERAPIES = ("endocrine_therapy", "chemotherapy", "anti_her2", "radiotherapy")
"""Adjuvant therapies a row may fix (the rest follow the scenario's guideline)."""
TRUE_WORDS = ("1", "1.0", "true", "yes", "y", "pos", "positive", "+")
FALSE_WORDS = ("0", "0.0", "false", "no", "n", "neg", "negative", "-")
MENOPAUSAL_WORDS = {"pre": 0, "premenopausal": 0, "post": 1, "postmenopausal": 1}
HISTOLOGY_WORDS = {"idc": 0, "ductal": 0, "ilc": 1, "lobular": 1}
AGE_RANGE = (field_bounds(("cohort", "age_min"))[0], field_bounds(("cohort", "age_max"))[1])
"""Ages (years) a scenario's cohort may span (``scenario.model.Cohort`` bounds)."""
MAX_FOLLOW_UP_DAYS = field_bounds(("cohort", "follow_up_years"))[1] * DAYS_PER_YEAR
"""Longest follow-up (days): the most a scenario's ``cohort.follow_up_years`` allows."""


class TwinsInputError(ValueError):
    """A twins table that cannot be used: one line naming the file, the row and the column."""


@dataclass(frozen=True)
class TwinsTable:
    """The usable rows of a twins table: ``row_id`` (0-based input position), what was observed
    (:class:`Observed`), the positive node count and pN code to match (-1: pN not given),
    fixed therapies (code per :data:`THERAPIES`, -1 not given) and follow-up (days; NaN not given)."""

    source: str
    row_id: np.ndarray
    observed: Observed
    positive_nodes: np.ndarray
    pn: np.ndarray
    therapies: dict[str, np.ndarray]
    follow_up_days: np.ndarray
    skipped: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.row_id)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == ""


def _number(v, lo: float, hi: float, what: str, *, whole: bool = False, open_low: bool = False) -> float:
    """A cell as a number in [lo, hi] (``open_low``: above lo), or ValueError saying what is allowed."""
    allowed = f"allowed {'a whole number of ' if whole else ''}{what} from {lo:g}{' (excluded)' if open_low else ''} to {hi:g}"
    try:
        x = float(str(v).strip())
    except ValueError:
        x = math.nan
    if not math.isfinite(x) or (whole and not x.is_integer()):
        raise ValueError(f"is not {'a whole number' if whole else 'a number'}; {allowed}")
    if x < lo or x > hi or (open_low and x == lo):
        raise ValueError(f"is out of range; {allowed}")
    return x


def _parse_cell(col: str, v, p: ParameterSet) -> float:
    """One cell as a number or code (NaN / UNKNOWN when blank), or ValueError with what is allowed."""
    text = str(v).strip().lower()
    if col == "tumor_size_mm":
        return _number(v, p["diagnosis.size_min_mm"], p["diagnosis.size_max_mm"],
                       "a diameter in mm within the model's sizes (diagnosis.size_min_mm, size_max_mm)")
    if col == "positive_nodes":
        n = int(p["nodes.count"])
        try:
            many = float(text) > n
        except ValueError:
            many = False
        if many:
            raise ValueError(f"is more positive nodes than a patient has in the model ({n} axillary nodes, nodes.count)")
        return _number(v, 0, n, "positive nodes", whole=True)
    if col == "age":
        return _number(v, *AGE_RANGE, "an age in years")
    if col == "follow_up_days":
        return _number(v, 0.0, MAX_FOLLOW_UP_DAYS, "days from diagnosis", open_low=True)
    if col == "grade":
        if text in ("1", "2", "3", "1.0", "2.0", "3.0", "g1", "g2", "g3"):
            return float(text.lstrip("g")[0])
        raise ValueError("is not a grade; allowed 1, 2 or 3")
    if col == "menopausal":
        if text in MENOPAUSAL_WORDS:
            return MENOPAUSAL_WORDS[text]
        raise ValueError("is not a menopausal status; allowed pre or post")
    if col == "histology":
        if text in HISTOLOGY_WORDS:
            return HISTOLOGY_WORDS[text]
        raise ValueError(f"is not a histology; allowed {', '.join(HISTOLOGIES)}")
    if col == "pn":
        names = [c.lower() for c in N_CATEGORIES]
        if text in names:
            return names.index(text)
        raise ValueError(f"is not a pN category; allowed {', '.join(N_CATEGORIES)}")
    if text in TRUE_WORDS:
        return 1
    if text in FALSE_WORDS:
        return 0
    raise ValueError("is not yes or no; allowed 0/1, true/false, yes/no, pos/neg")


def _pn_consistent(pn: int, positive: int, p: ParameterSet) -> str | None:
    """Why a pN category cannot have this many positive nodes (None if it can)."""
    n1, n2 = int(p["nodes.pn1a_max_positive"]), int(p["nodes.pn2a_max_positive"])
    name = N_CATEGORIES[pn]
    ok = {"pN0": positive == 0, "pN0(i+)": positive == 0, "pN1mi": positive >= 1, "pN1a": 1 <= positive <= n1,
          "pN2a": n1 < positive <= n2, "pN3a": positive > n2}[name]
    return None if ok else f"{name} does not fit {positive} positive node{'s' * (positive != 1)}"


def read_twins(source: str | os.PathLike | pd.DataFrame, scenario: Scenario, p: ParameterSet, *,
               skip_bad_rows: bool = False, warn: Callable[[str], None] | None = None) -> TwinsTable:
    """The twins table of a CSV file (or a DataFrame): every cell checked; unknown columns ignored
    with one warning naming them; a bad cell is a :class:`TwinsInputError` naming the row and the
    column, or with ``skip_bad_rows`` its row is skipped with one warning per row."""
    warn = warn or (lambda message: None)
    if isinstance(source, pd.DataFrame):
        name, df = "twins table", source.copy()
    else:
        name = str(source)
        path = Path(source)
        if not path.is_file():
            raise TwinsInputError(f"{name}: no such file")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise TwinsInputError(f"{name}: not a readable CSV table ({' '.join(str(err).split())})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        raise TwinsInputError(f"{name}: column {dup[0]!r} appears more than once")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise TwinsInputError(f"{name}: missing required column{'s' * (len(missing) > 1)} "
                              f"{', '.join(missing)} (required: {', '.join(REQUIRED)})")
    unknown = [c for c in df.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        warn(f"{name}: ignoring column{'s' * (len(unknown) > 1)} {', '.join(unknown)} "
             f"(used: {', '.join(REQUIRED + OPTIONAL)})")
    if len(df) == 0:
        raise TwinsInputError(f"{name}: no rows")
    cols = [c for c in REQUIRED + OPTIONAL if c in df.columns]
    values = {c: np.full(len(df), np.nan) for c in REQUIRED + OPTIONAL}
    good, skipped = [], []
    for i, row in enumerate(df[cols].itertuples(index=False, name=None)):
        problem = None
        for col, v in zip(cols, row):
            if _blank(v):
                if col in REQUIRED:
                    problem = f"column {col!r} is empty (required)"
                    break
                continue
            try:
                values[col][i] = _parse_cell(col, v, p)
            except ValueError as err:
                problem = f"column {col!r}: {str(v).strip()!r} {err}"
                break
        if problem is None and not np.isnan(values["pn"][i]):
            problem = _pn_consistent(int(values["pn"][i]), int(values["positive_nodes"][i]), p)
            problem = problem and f"column 'pn': {problem}"
        if problem is None:
            good.append(i)
            continue
        if not skip_bad_rows:
            raise TwinsInputError(f"{name}: row {i} (line {i + 2}): {problem}")
        warn(f"{name}: skipping row {i} (line {i + 2}): {problem}")
        skipped.append(i)
    rows = np.array(good, dtype=np.int64)
    if not len(rows):
        raise TwinsInputError(f"{name}: every row was skipped")

    def code(col: str) -> np.ndarray:
        v = values[col][rows]
        return np.where(np.isnan(v), UNKNOWN, v).astype(np.int64)

    obs = Observed(diameter_mm=values["tumor_size_mm"][rows], age=values["age"][rows],
                   postmenopausal=code("menopausal"), grade=code("grade"), er=code("er"), pr=code("pr"),
                   her2=code("her2"), lobular=code("histology"))
    impossible = np.flatnonzero(subtype_posterior(scenario, p, obs).sum(axis=1) == 0)
    if impossible.size:
        i = int(rows[impossible[0]])
        raise TwinsInputError(f"{name}: row {i} (line {i + 2}): this combination of receptors, grade and histology "
                              "never occurs in the scenario's cohort (cohort.*_positive_prob, grade_prob, ilc_share)")
    follow = values["follow_up_days"][rows]
    missing = rows[np.isnan(follow)]
    if missing.size:
        listed = ", ".join(str(int(i)) for i in missing[:10]) + (", ..." if missing.size > 10 else "")
        warn(f"{name}: no follow_up_days for {missing.size} row{'s' * (missing.size > 1)} ({listed}): followed for "
             f"the scenario's {scenario.cohort.follow_up_years:g} years (cohort.follow_up_years)")
    return TwinsTable(source=name, row_id=rows, observed=obs, positive_nodes=values["positive_nodes"][rows].astype(np.int64),
                      pn=code("pn"), therapies={t: code(t) for t in THERAPIES},
                      follow_up_days=follow, skipped=tuple(skipped))
