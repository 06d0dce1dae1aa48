"""Published targets as data, and for each the function that computes it from a simulation.

The table is ``targets.csv`` beside this module, one row per target: ``target_id``, ``theme``
(one figure each in ``seedsoil validate``), ``family`` (``cohort``: computed from runs'
patients/lesions/funnel tables; ``assay``: from the mouse assays), ``quantity``, ``unit``,
``published`` (empty where the source gives only a range or a word), the tolerance, the
``tolerance_basis`` (issue 12 part 5 or issue 9 part 5 where it states one, else what was chosen
and why), ``population``, ``source``, ``short_source`` and ``runs``: the runs of the default
scenario a cohort target reads, ``;``-separated names of :data:`RUNS` (empty: the default run,
``modern``; assay targets read none). A target reading two runs compares paired arms (treated
first, control second): the same patients and seed under two treatment overrides. Tolerance kinds:

============  ==========================================  =========================================
kind          columns                                      passes when the simulated value is in
============  ==========================================  =========================================
``absolute``  ``tolerance`` (in the target's unit)         [published - tolerance, published + tolerance]
``relative``  ``tolerance`` (a fraction, 0.3 = 30%)        [published (1 - tol), published (1 + tol)]
``range``     ``lower``, ``upper``                         [lower, upper]
``minimum``   ``lower``                                    [lower, infinity)
``maximum``   ``upper``                                    (-infinity, upper]
============  ==========================================  =========================================

A target passes when its simulated point value lies in that band (bounds included); the 95%
Monte-Carlo interval beside it says how much of a miss or a pass could be chance. Intervals:
Wilson for shares of independent patients (or injected cells), bootstrap (resampling patients)
for medians, Kaplan-Meier risks and the lesion-level ER+ share, the paired bootstrap (the same
patients drawn in both arms) for rate ratios and risk differences between treatment arms, the
Wald interval of the logistic fit for the TMEM odds ratio and of the Cox fit for nodal and
first-relapse organ hazard ratios, and replicate seeds for the cluster potential. The cohort
computations are those of the README calibration table, built on the helpers of
:mod:`seedsoil.analysis` (therapy effects: :mod:`seedsoil.analysis.therapy_effects`; organ
outcomes: :mod:`seedsoil.analysis.organ_outcomes`).

>>> t = {x.target_id: x for x in load_targets()}["sites.her2.brain"]
>>> (t.published, t.acceptance, t.passes(30.0), t.passes(33.0))
(25.3, (18.3, 32.3), True, False)
>>> import pandas as pd
>>> p = pd.DataFrame({"M": ["M0", "M0", "M0", "M1"]})
>>> round(FUNCTIONS["clinical.de_novo_stage_iv"](Cohort(p)).value, 6)
25.0
>>> t = {x.target_id: x for x in load_targets()}["therapy.endocrine.rr_years_0_4"]
>>> (t.runs, t.acceptance)
(('1990_endocrine', '1990_no_endocrine'), (0.43, 0.63))
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from seedsoil.analysis import therapy_effects as TE
from seedsoil.analysis.case_control import marker_odds_ratio
from seedsoil.analysis.organ_outcomes import first_relapse_cox, her2_brain_counts, skeletal_event_design
from seedsoil.analysis.sites import site_shares_by_subtype
from seedsoil.analysis.survival import (
    DAYS_PER_YEAR, distant_relapse_mask, median_by_group, median_os_after_distant_relapse,
)

TARGETS_FILE = Path(__file__).with_name("targets.csv")
COLUMNS = ("target_id", "theme", "family", "label", "quantity", "unit", "published", "tolerance_kind", "tolerance",
           "lower", "upper", "tolerance_basis", "population", "source", "short_source", "runs")
TOLERANCE_KINDS = ("absolute", "relative", "range", "minimum", "maximum")
FAMILIES = ("cohort", "assay")
THEMES = ("clinical", "dissemination", "sites", "lobular", "survival", "organs", "therapy", "mouse")
"""Themes in display order (one figure each)."""
THEME_TITLES = {
    "clinical": "relapse, staging and late recurrence", "dissemination": "dissemination: CTCs and TMEM",
    "sites": "metastatic sites by subtype", "lobular": "lobular (ILC) vs ductal (IDC) sites",
    "survival": "survival after distant metastasis", "organs": "organ involvement and outcome",
    "therapy": "adjuvant therapy effects (paired arms)",
    "mouse": "mouse metastasis assays",
}
UNIT_FORMATS: dict[str, tuple[str, str]] = {
    "%": (".1f", "%"), "years": (".1f", " y"), "months": (".0f", " mo"), "odds ratio": (".2f", ""),
    "TMEM units": (".0f", ""), "fraction": (".3g", ""), "fold": (".1f", "x"), "rate ratio": (".2f", ""),
    "hazard ratio": (".2f", ""), "ratio": (".2f", ""), "percentage points": (".1f", " pp"),
}
"""Unit -> (number format, suffix) for tables; every unit of targets.csv is here."""

DEFAULT_RUN = "modern"
RUNS: dict[str, dict[str, object]] = {
    "modern": {},
    "1990": {"era": "1990"},
    "1990_endocrine": {"era": "1990", "endocrine": True, "endocrine_years": 5.0},
    "1990_no_endocrine": {"era": "1990", "endocrine": False},
    "1990_chemotherapy": {"era": "1990", "chemotherapy": True},
    "1990_no_chemotherapy": {"era": "1990", "chemotherapy": False},
    "modern_chemotherapy_anti_her2": {"chemotherapy": True, "anti_her2": True, "her2_tki": False},
    "modern_chemotherapy_no_anti_her2": {"chemotherapy": True, "anti_her2": False, "her2_tki": False},
    "modern_bone_agent": {"bone_agent": True},
    "modern_no_bone_agent": {"bone_agent": False},
    "modern_denosumab": {"metastatic_bone_agent": "denosumab"},
    "1990_bcs_radiotherapy": {"era": "1990", "surgery": "bcs", "radiotherapy": True},
    "1990_bcs_no_radiotherapy": {"era": "1990", "surgery": "bcs", "radiotherapy": False},
}
"""The runs validation makes: run name -> overrides of the default scenario's ``[treatment]`` table
(seedsoil.scenario.Treatment), every run with the same patients and seed, so that patient i is
the same person before surgery in all of them. ``modern`` is the default scenario itself. The
paired arms follow the trials each target compares: 5 years of endocrine therapy vs none (EBCTCG
2011 compared about 5 years of tamoxifen with none), chemotherapy vs none (EBCTCG 2012:
anthracycline-based regimens vs none), trastuzumab vs none with chemotherapy in both arms and no HER2 tyrosine-kinase inhibitor in
either (the EBCTCG 2021 trials added trastuzumab to chemotherapy), a bone agent vs none (EBCTCG
2015), radiotherapy vs none after breast-conserving surgery (EBCTCG 2011, Darby); the other
therapies follow the era's guideline in both arms. The names are folder names (OUT/run/<name>)."""


def run_description(name: str) -> str:
    """'1990_endocrine: era=1990, endocrine=true, endocrine_years=5'; 'modern: the default scenario'."""
    overrides = RUNS[name]
    if not overrides:
        return f"{name}: the default scenario"
    text = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else f'{v:g}' if isinstance(v, float) else v}"
                     for k, v in overrides.items())
    return f"{name}: {text}"


def runs_needed(targets: Iterable[Target]) -> tuple[str, ...]:
    """The runs ``targets`` read, each once, in :data:`RUNS` order."""
    wanted = {r for t in targets for r in t.runs}
    return tuple(r for r in RUNS if r in wanted)


BOOT = 200
"""Bootstrap resamples for the intervals of medians, Kaplan-Meier risks, rate ratios and the
lesion-level ER+ share."""
Z = float(norm.ppf(0.975))
DEFAULT_SEED = 20261121
SUBTYPES = ("luminal_a", "luminal_b", "her2", "triple_negative")
ORGANS4 = ("bone", "liver", "lung", "brain")
DEATH_HR_ORGANS = ("liver", "lung", "brain")
"""Organs at first relapse whose hazard ratio of death is a target (:mod:`seedsoil.analysis.organ_outcomes`)."""
BORST_ORGANS = {"gastrointestinal": ("gi_tract",), "gynecologic": ("ovary",), "peritoneum": ("peritoneum",),
                "bone_marrow": ("bone",), "lung_pleura": ("lung", "pleura")}
"""Borst & Ingold 1993 site -> the model's organs (a patient counts when any of them is involved)."""
LATE_YEARS = 5.0
RELAPSE_YEARS = 10.0
ENDOCRINE_INTERVALS = {"years_0_4": (0.0, 5.0), "years_5_9": (5.0, 10.0)}
"""EBCTCG 2011 (Davies): recurrence rate ratios of years 0-4 and 5-9 from diagnosis, in years [start, stop)."""
RADIOTHERAPY_YEARS = 10.0
"""EBCTCG 2011 (Darby) reports the 10-year risk of any first recurrence."""
SENTINEL_YEARS = 10.0
"""Issue 9 part 5: regional recurrence at 10 years after sentinel-node biopsy alone."""
INTRAPORTAL_CELLS = 1_000_000
INTRAVENOUS_CELLS = 200_000
POTENTIAL_REPLICATES = 8
"""Replicate seeds for the Monte-Carlo interval of the cluster potential (each 200,000 samples)."""


class TargetTableError(ValueError):
    """targets.csv (or a table given instead) is malformed."""


# ----- the table --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One published target: what it is, its value, its tolerance, where it comes from."""

    target_id: str
    theme: str
    family: str
    label: str
    quantity: str
    unit: str
    published: float
    tolerance_kind: str
    tolerance: float
    lower: float
    upper: float
    tolerance_basis: str
    population: str
    source: str
    short_source: str
    runs: tuple[str, ...] = (DEFAULT_RUN,)
    """Names of :data:`RUNS` the computing function takes, in its argument order (empty for assays)."""

    @property
    def acceptance(self) -> tuple[float, float]:
        """The band of simulated values that pass: (low, high), low or high may be infinite."""
        if self.tolerance_kind == "absolute":
            return (round(self.published - self.tolerance, 12), round(self.published + self.tolerance, 12))
        if self.tolerance_kind == "relative":
            return (round(self.published * (1 - self.tolerance), 12), round(self.published * (1 + self.tolerance), 12))
        if self.tolerance_kind == "range":
            return (self.lower, self.upper)
        if self.tolerance_kind == "maximum":
            return (-math.inf, self.upper)
        return (self.lower, math.inf)

    def passes(self, value: float) -> bool:
        lo, hi = self.acceptance
        return bool(np.isfinite(value) and lo <= value <= hi)

    def format(self, value: float, suffix: bool = True) -> str:
        """A simulated number in this target's unit, for a table ('n/a' when not finite); percentages
        get a second decimal where the band starts below 1%."""
        if not np.isfinite(value):
            return "n/a"
        spec, unit = UNIT_FORMATS[self.unit]
        if self.unit == "%" and 0 < self.acceptance[0] < 1:
            spec = ".2f"
        return format(value, spec) + (unit if suffix else "")

    def format_given(self, value: float, suffix: bool = True) -> str:
        """A published number or band bound as the table gives it (``:g``), with the unit."""
        return f"{value:g}" + (UNIT_FORMATS[self.unit][1] if suffix else "")

    def format_estimate(self, value: float, low: float, high: float) -> str:
        """'20.2% [19.7-20.8]'."""
        if not np.isfinite(value):
            return "n/a"
        if not (np.isfinite(low) and np.isfinite(high)):
            return self.format(value)
        return f"{self.format(value)} [{self.format(low, False)}-{self.format(high, False)}]"

    @property
    def band_text(self) -> str:
        """The acceptance band: '5-7%', '>= 50%', '<= 1%', '18.3-32.3%'."""
        lo, hi = self.acceptance
        if math.isinf(hi):
            return f">= {self.format_given(lo)}"
        if math.isinf(lo):
            return f"<= {self.format_given(hi)}"
        return f"{self.format_given(lo, False)}-{self.format_given(hi)}"

    @property
    def published_text(self) -> str:
        """The published value, or its band where the source gives only a range or a word."""
        return self.format_given(self.published) if np.isfinite(self.published) else self.band_text

    @property
    def tolerance_text(self) -> str:
        """'±7 pp', '±30%', '±0.02', or the band for range and minimum tolerances."""
        if self.tolerance_kind == "absolute":
            unit = " pp" if self.unit == "%" else UNIT_FORMATS[self.unit][1]
            return f"±{self.tolerance:g}{unit}"
        if self.tolerance_kind == "relative":
            return f"±{100 * self.tolerance:g}%"
        return self.band_text


def _number(row: Mapping, col: str, where: str) -> float:
    text = str(row[col]).strip()
    if text in ("", "nan"):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise TargetTableError(f"{where}: {col} must be a number, not {text!r}") from None


def _check(t: Target, where: str) -> None:
    if t.family not in FAMILIES:
        raise TargetTableError(f"{where}: family must be one of {', '.join(FAMILIES)}, not {t.family!r}")
    if t.theme not in THEMES:
        raise TargetTableError(f"{where}: theme must be one of {', '.join(THEMES)}, not {t.theme!r}")
    if t.unit not in UNIT_FORMATS:
        raise TargetTableError(f"{where}: unit must be one of {', '.join(UNIT_FORMATS)}, not {t.unit!r}")
    if t.tolerance_kind not in TOLERANCE_KINDS:
        raise TargetTableError(f"{where}: tolerance_kind must be one of {', '.join(TOLERANCE_KINDS)}, "
                               f"not {t.tolerance_kind!r}")
    if t.tolerance_kind in ("absolute", "relative"):
        if not (np.isfinite(t.published) and np.isfinite(t.tolerance) and t.tolerance > 0):
            raise TargetTableError(f"{where}: an {t.tolerance_kind} tolerance needs a published value and "
                                   "a tolerance > 0")
    elif t.tolerance_kind == "range":
        if not (np.isfinite(t.lower) and np.isfinite(t.upper) and t.lower < t.upper):
            raise TargetTableError(f"{where}: a range tolerance needs lower < upper")
    elif t.tolerance_kind == "maximum":
        if not np.isfinite(t.upper):
            raise TargetTableError(f"{where}: a maximum tolerance needs upper")
    elif not np.isfinite(t.lower):
        raise TargetTableError(f"{where}: a minimum tolerance needs lower")
    for col in ("target_id", "label", "quantity", "tolerance_basis", "population", "source", "short_source"):
        if not getattr(t, col).strip():
            raise TargetTableError(f"{where}: {col} is empty")
    unknown = [r for r in t.runs if r not in RUNS]
    if unknown:
        raise TargetTableError(f"{where}: unknown run {unknown[0]!r}; runs: {', '.join(RUNS)}")
    if t.family == "assay" and t.runs:
        raise TargetTableError(f"{where}: an assay target reads no run; leave runs empty")
    if len(set(t.runs)) != len(t.runs):
        raise TargetTableError(f"{where}: runs name one run twice")


def _runs(text: str, family: str) -> tuple[str, ...]:
    names = tuple(r.strip() for r in str(text).split(";") if r.strip())
    return names or ((DEFAULT_RUN,) if family == "cohort" else ())


def read_targets(path: str | Path) -> tuple[Target, ...]:
    """Read and check a target table (columns :data:`COLUMNS`; ids unique; runs known)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TargetTableError(f"{path}: missing column(s) {', '.join(missing)}")
    out, seen = [], set()
    for i, row in enumerate(frame.to_dict("records"), start=2):
        where = f"{Path(path).name} line {i}"
        fields = {c: (_number(row, c, where) if c in ("published", "tolerance", "lower", "upper") else str(row[c]))
                  for c in COLUMNS}
        fields["runs"] = _runs(fields["runs"], fields["family"])
        t = Target(**fields)
        _check(t, where)
        if t.target_id in seen:
            raise TargetTableError(f"{where}: target_id {t.target_id!r} appears twice")
        seen.add(t.target_id)
        out.append(t)
    return tuple(out)


@lru_cache(maxsize=1)
def _packaged() -> tuple[Target, ...]:
    return read_targets(TARGETS_FILE)


def load_targets() -> tuple[Target, ...]:
    """The packaged targets (targets.csv), in table order."""
    return _packaged()


# ----- estimates and intervals --------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A simulated value with its 95% Monte-Carlo interval, the count behind it and how the
    interval was made."""

    value: float
    low: float
    high: float
    n: int
    interval: str


def wilson(k: int, n: int, scale: float = 100.0) -> Estimate:
    """Share k/n (times ``scale``: percent by default) with its 95% Wilson interval.

    >>> e = wilson(24, 100)
    >>> (e.value, round(e.low, 1), round(e.high, 1))
    (24.0, 16.7, 33.2)
    """
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, "Wilson")
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return Estimate(p * scale, (centre - half) * scale, (centre + half) * scale, int(n), "Wilson")


def bootstrap(stat: Callable[[np.ndarray], float], n: int, rng: np.random.Generator,
              reps: int = BOOT) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of ``stat(idx)`` over ``reps`` resampled index arrays of 0..n-1."""
    if n == 0 or reps <= 0:
        return (math.nan, math.nan)
    vals = np.array([stat(rng.integers(0, n, n)) for _ in range(reps)], float)
    if not np.isfinite(vals).any():
        return (math.nan, math.nan)
    lo, hi = np.nanpercentile(vals, [2.5, 97.5])
    return (float(lo), float(hi))


# ----- the cohort family --------------------------------------------------------------------------

class Cohort:
    """One run's tables, with the pieces several targets share computed once (lazily).

    ``patients`` follows docs/schema.md; ``lesions`` is needed only by the late ER+ target and
    ``funnel`` by none yet. Bootstrap draws come from streams keyed by (``seed``, statistic), so a
    target's interval does not depend on which other targets were computed. ``sentinel_count`` is
    the run's ``nodes.sentinel_count`` (nodes a sentinel biopsy removes; default: the default
    parameters' value).
    """

    def __init__(self, patients: pd.DataFrame, lesions: pd.DataFrame | None = None, funnel: pd.DataFrame | None = None,
                 *, seed: int = DEFAULT_SEED, boot: int = BOOT, sentinel_count: int | None = None):
        self.patients = patients.reset_index(drop=True)
        self.lesions = lesions
        self.funnel = funnel
        self.seed = int(seed)
        self.boot = int(boot)
        self._sentinel_count = sentinel_count

    @property
    def sentinel_count(self) -> int:
        if self._sentinel_count is None:
            from seedsoil.params import default_parameters

            self._sentinel_count = int(default_parameters()["nodes.sentinel_count"])
        return int(self._sentinel_count)

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    @property
    def n(self) -> int:
        return len(self.patients)

    @cached_property
    def relapsed(self) -> pd.Series:
        """Detected distant metastasis with a DMFS event (the README's 'distant relapse')."""
        return distant_relapse_mask(self.patients) & self.patients["dmfs_event"].astype(bool)

    @cached_property
    def site_counts(self) -> dict[str, tuple[dict[str, int], int]]:
        """subtype -> ({organ: relapsed patients with it}, relapsed patients): patients without
        metastases at diagnosis (M0) who relapse, as in the source (relapses after curative surgery)."""
        p = self.patients
        return _organ_counts(site_shares_by_subtype(p[p["M"] == "M0"] if "M" in p.columns else p))

    @cached_property
    def histology_sites(self) -> dict[str, tuple[pd.DataFrame, int]]:
        """histology -> (per patient of it, whether each Borst organ was ever involved; how many patients)."""
        p = self.patients
        organs = sorted({o for names in BORST_ORGANS.values() for o in names})
        out = {}
        for h in ("ilc", "idc"):
            sites = p.loc[p["histology"] == h, "metastasis_sites"]
            out[h] = (pd.DataFrame({o: TE.has_site(sites, o).to_numpy() for o in organs}), len(sites))
        return out

    @cached_property
    def odds_ratio(self) -> pd.Series:
        return marker_odds_ratio(self.patients)

    @cached_property
    def nodal_cox(self) -> pd.DataFrame:
        """The nodal Cox model of distant metastasis (:func:`seedsoil.analysis.therapy_effects.nodal_cox`)."""
        return TE.nodal_cox(self.patients)

    @cached_property
    def first_relapse_cox(self) -> pd.DataFrame:
        """Hazard ratios of death after the first distant relapse by organ among the first sites
        (:func:`seedsoil.analysis.organ_outcomes.first_relapse_cox`)."""
        return first_relapse_cox(self.patients)

    @cached_property
    def relapsed_table(self) -> pd.DataFrame:
        return self.patients[self.relapsed].reset_index(drop=True)

    @cached_property
    def os_after_relapse_draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point medians, bootstrap medians (resamples x subtypes), patients) of survival after a
        distant relapse (years) by :data:`SUBTYPES`, among patients without metastasis at diagnosis
        (M0: Kennecke 2010 followed early breast cancer), patients resampled jointly."""
        rel = self.relapsed_table
        rel = rel[rel["M"] == "M0"].reset_index(drop=True) if "M" in rel.columns else rel
        point = median_os_after_distant_relapse(rel).set_index("subtype") if len(rel) else pd.DataFrame(
            columns=["n", "median_years"])
        values = point["median_years"].reindex(SUBTYPES).to_numpy(float)
        counts = point["n"].reindex(SUBTYPES).fillna(0).to_numpy(np.int64)
        rng = self.rng("os_after_relapse")
        if len(rel) and self.boot > 0:
            reps = np.array([median_os_after_distant_relapse(rel.iloc[rng.integers(0, len(rel), len(rel))])
                             .set_index("subtype")["median_years"].reindex(SUBTYPES).to_numpy(float)
                             for _ in range(self.boot)])
        else:
            reps = np.full((0, len(SUBTYPES)), np.nan)
        return values, reps, counts

    @cached_property
    def os_after_relapse(self) -> dict[str, Estimate]:
        """Median OS after distant relapse by subtype (years; M0 at diagnosis), patients resampled jointly."""
        values, reps, counts = self.os_after_relapse_draws
        ci = _percentiles(reps)
        return {s: Estimate(float(values[j]), float(ci[0, j]), float(ci[1, j]), int(counts[j]),
                            f"bootstrap ({self.boot})") for j, s in enumerate(SUBTYPES)}

    @cached_property
    def os_from_metastasis(self) -> dict[str, Estimate]:
        """Median OS (months) from the first distant metastasis, de novo or relapsed, by receptor
        group (:data:`seedsoil.analysis.therapy_effects.RECEPTOR_GROUPS`), patients resampled jointly."""
        groups = TE.RECEPTOR_GROUPS
        point = TE.median_months_by_receptor_group(self.patients).set_index("receptor_group")
        met = self.patients[np.isfinite(self.patients["distant_metastasis_day"].to_numpy(float))].reset_index(drop=True)
        rng = self.rng("os_from_metastasis")
        if len(met) and self.boot > 0:
            reps = np.array([TE.median_months_by_receptor_group(met.iloc[rng.integers(0, len(met), len(met))])
                             .set_index("receptor_group")["median_months"].reindex(groups).to_numpy(float)
                             for _ in range(self.boot)])
        else:
            reps = np.full((0, len(groups)), np.nan)
        ci = _percentiles(reps)
        return {g: Estimate(float(point.loc[g, "median_months"]), float(ci[0, j]), float(ci[1, j]),
                            int(point.loc[g, "n"]), f"bootstrap ({self.boot})") for j, g in enumerate(groups)}


def _percentiles(reps: np.ndarray) -> np.ndarray:
    """2.5 and 97.5 percentiles of each column of bootstrap draws, shape (2, columns); NaN for a
    column without a finite draw."""
    ci = np.full((2, reps.shape[1]), np.nan)
    if len(reps):
        ok = np.isfinite(reps).any(axis=0)
        ci[:, ok] = np.nanpercentile(reps[:, ok], [2.5, 97.5], axis=0)
    return ci


def _organ_counts(shares: pd.DataFrame) -> dict[str, tuple[dict[str, int], int]]:
    out = {}
    for group, sub in shares.groupby("subtype", sort=False):
        nrel = int(sub["n_relapsed"].iloc[0])
        out[str(group)] = ({o: int(round(s * nrel)) for o, s in zip(sub["organ"], sub["share"])}, nrel)
    return out


def _distant_relapse_10y(c: Cohort) -> Estimate:
    within = c.relapsed & (c.patients["dmfs_days"] <= RELAPSE_YEARS * DAYS_PER_YEAR)
    return wilson(int(within.sum()), c.n)


def _pn0(c: Cohort) -> Estimate:
    return wilson(int((c.patients["pN"] == "pN0").sum()), c.n)


def _de_novo(c: Cohort) -> Estimate:
    return wilson(int((c.patients["M"] == "M1").sum()), c.n)


def _late_er(c: Cohort) -> Estimate:
    if c.lesions is None:
        raise ValueError("the late ER+ share needs the lesions table")
    late = c.lesions[c.lesions["detection_day"] > LATE_YEARS * DAYS_PER_YEAR][["patient_id"]].merge(
        c.patients[["patient_id", "er"]], on="patient_id")
    per_pt = late.groupby("patient_id")["er"].agg(["size", "first"])
    cnt, er = per_pt["size"].to_numpy(float), per_pt["first"].to_numpy(bool)
    if not len(cnt):
        return Estimate(math.nan, math.nan, math.nan, 0, f"bootstrap ({c.boot})")
    lo, hi = bootstrap(lambda i: (cnt[i] * er[i]).sum() / cnt[i].sum(), len(cnt), c.rng("late_er"), c.boot)
    share = float((cnt * er).sum() / cnt.sum())
    return Estimate(100 * share, 100 * lo, 100 * hi, int(cnt.sum()), f"bootstrap ({c.boot})")


def _ctc(c: Cohort) -> Estimate:
    early = c.patients["stage"] != "IV"
    return wilson(int((c.patients.loc[early, "ctc_7_5ml"] >= 1).sum()), int(early.sum()))


def _ctc5_first_line(c: Cohort) -> Estimate:
    """Share of patients with a distant relapse (or de novo stage IV) whose draw on the day it is
    found, before first-line therapy, holds >= 5 CTCs."""
    v = c.patients["ctc_at_relapse_7_5ml"].dropna()
    return wilson(int((v >= 5).sum()), int(len(v)))


def _dtc(c: Cohort) -> Estimate:
    early = c.patients["stage"] != "IV"
    return wilson(int((c.patients.loc[early, "dtc_bone_marrow"] >= 1).sum()), int(early.sum()))


def _tmem_or(c: Cohort) -> Estimate:
    r = c.odds_ratio
    return Estimate(float(r["odds_ratio"]), float(r["ci_low"]), float(r["ci_high"]), int(r["cases"] + r["controls"]),
                    "Wald (logistic fit)")


def _tmem_median(cases: bool) -> Callable[[Cohort], Estimate]:
    def compute(c: Cohort) -> Estimate:
        mask = distant_relapse_mask(c.patients).to_numpy()
        x = c.patients["tmem_score"].to_numpy(float)[mask if cases else ~mask]
        if not len(x):
            return Estimate(math.nan, math.nan, math.nan, 0, f"bootstrap ({c.boot})")
        lo, hi = bootstrap(lambda i: float(np.median(x[i])), len(x), c.rng(f"tmem_median_{cases}"), c.boot)
        return Estimate(float(np.median(x)), lo, hi, len(x), f"bootstrap ({c.boot})")
    return compute


def _site(subtype: str, organ: str) -> Callable[[Cohort], Estimate]:
    def compute(c: Cohort) -> Estimate:
        ks, nrel = c.site_counts.get(subtype, ({}, 0))
        return wilson(ks.get(organ, 0), nrel)
    return compute


def _borst(histology: str, site: str) -> Callable[[Cohort], Estimate]:
    def compute(c: Cohort) -> Estimate:
        sites, n_h = c.histology_sites[histology]
        return wilson(int(sites[list(BORST_ORGANS[site])].any(axis=1).sum()), n_h)
    return compute


def _os_after_relapse(subtype: str) -> Callable[[Cohort], Estimate]:
    return lambda c: c.os_after_relapse[subtype]


def _bone_only(c: Cohort) -> Estimate:
    rel = c.relapsed_table
    bo = rel[(rel["er"].astype(bool) | rel["pr"].astype(bool)) & (rel["first_metastasis_sites"] == "bone")]
    after = pd.DataFrame({"days": np.clip(bo["os_days"].to_numpy(float) - bo["dmfs_days"].to_numpy(float), 0, None),
                          "event": bo["os_event"].to_numpy(bool)})
    return _median_months(after, c, "bone_only")


def _median_months(times: pd.DataFrame, c: Cohort, stream: str) -> Estimate:
    """Kaplan-Meier median (months) of ``days``/``event`` with a bootstrap interval from stream ``stream``."""
    if not len(times):
        return Estimate(math.nan, math.nan, math.nan, 0, f"bootstrap ({c.boot})")
    d = times.assign(g="all")

    def median(idx=None) -> float:
        x = d if idx is None else d.iloc[idx]
        return float(median_by_group(x, "days", "event", "g", time_scale=DAYS_PER_YEAR / 12)["median"].iloc[0])

    lo, hi = bootstrap(median, len(d), c.rng(stream), c.boot)
    return Estimate(median(), lo, hi, len(d), f"bootstrap ({c.boot})")


SUBGROUPS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "m0": lambda p: p["M"] == "M0",
    "er_positive": lambda p: (p["M"] == "M0") & p["er"].astype(bool),
    "her2_positive": lambda p: (p["M"] == "M0") & p["her2"].astype(bool),
    "postmenopausal": lambda p: (p["M"] == "M0") & (p["menopausal"] == "post"),
    "premenopausal": lambda p: (p["M"] == "M0") & (p["menopausal"] == "pre"),
}
"""Trial populations of the rate-ratio targets: patients without metastasis at diagnosis (the
trials enrolled early breast cancer), by receptor or menopausal status."""


def _rate_ratio(endpoint: str, subgroup: str, start: float = 0.0, stop: float = math.inf
                ) -> Callable[[Cohort, Cohort], Estimate]:
    """Paired rate ratio (treated run over control run) of ``endpoint`` in years [start, stop)."""
    def compute(treated: Cohort, control: Cohort) -> Estimate:
        r = TE.paired_rate_ratio(treated.patients, control.patients, endpoint=endpoint, start_years=start,
                                 stop_years=stop, subgroup=SUBGROUPS[subgroup], reps=treated.boot,
                                 rng=treated.rng(f"rate_ratio:{endpoint}:{subgroup}:{start:g}:{stop:g}"))
        return Estimate(float(r["value"]), float(r["ci_low"]), float(r["ci_high"]), int(r["n"]),
                        f"paired bootstrap ({treated.boot})")
    return compute


def _after_bcs(p: pd.DataFrame) -> pd.Series:
    return (p["M"] == "M0") & (p["surgery"] == "bcs")


def _km_risk(endpoint: str, years: float, select: Callable[[Cohort], pd.Series], name: str
             ) -> Callable[[Cohort], Estimate]:
    """Kaplan-Meier risk (%) of ``endpoint`` by ``years`` among the patients ``select`` picks."""
    def compute(c: Cohort) -> Estimate:
        times = TE.event_times(c.patients[select(c).to_numpy(bool)], endpoint).reset_index(drop=True)
        if not len(times):
            return Estimate(math.nan, math.nan, math.nan, 0, f"bootstrap ({c.boot})")

        def risk(idx=None) -> float:
            return 100 * TE.cumulative_incidence(times if idx is None else times.iloc[idx], years)

        lo, hi = bootstrap(risk, len(times), c.rng(f"km_risk:{name}"), c.boot)
        return Estimate(risk(), lo, hi, len(times), f"bootstrap ({c.boot})")
    return compute


def _radiotherapy_reduction(treated: Cohort, control: Cohort) -> Estimate:
    """10-year risk of any first recurrence without radiotherapy minus with (percentage points),
    paired patients after breast-conserving surgery, paired bootstrap."""
    a, b = TE.paired_arms(treated.patients, control.patients)
    sel = (_after_bcs(a) & _after_bcs(b)).to_numpy(bool)
    ta = TE.event_times(a[sel]).reset_index(drop=True)
    tb = TE.event_times(b[sel]).reset_index(drop=True)
    if not len(ta):
        return Estimate(math.nan, math.nan, math.nan, 0, f"paired bootstrap ({treated.boot})")

    def reduction(idx=None) -> float:
        pick = (lambda t: t) if idx is None else (lambda t: t.iloc[idx])
        return 100 * (TE.cumulative_incidence(pick(tb), RADIOTHERAPY_YEARS)
                      - TE.cumulative_incidence(pick(ta), RADIOTHERAPY_YEARS))

    lo, hi = bootstrap(reduction, len(ta), treated.rng("radiotherapy_reduction"), treated.boot)
    return Estimate(reduction(), lo, hi, len(ta), f"paired bootstrap ({treated.boot})")


def _de_novo_early_death(c: Cohort) -> Estimate:
    return wilson(*TE.early_deaths(c.patients))


def _hr_estimate(row: pd.Series) -> Estimate:
    """A hazard ratio and its Wald interval from one row of a Cox table."""
    return Estimate(float(row["hazard_ratio"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"]),
                    "Wald (Cox fit)")


def _nodal_hr(term: str) -> Callable[[Cohort], Estimate]:
    def compute(c: Cohort) -> Estimate:
        return _hr_estimate(c.nodal_cox.loc[TE.PN_TERMS[term]])
    return compute


def _death_hr(organ: str) -> Callable[[Cohort], Estimate]:
    """Hazard ratio of death after the first distant relapse, ``organ`` among the first sites vs not."""
    def compute(c: Cohort) -> Estimate:
        return _hr_estimate(c.first_relapse_cox.loc[organ])
    return compute


def _sre_median(c: Cohort) -> Estimate:
    """Median months from a first distant relapse involving bone to the first skeletal-related event."""
    return _median_months(skeletal_event_design(c.patients), c, "sre_median")


def _sre_hr(treated: Cohort, control: Cohort) -> Estimate:
    """Cox hazard ratio of the first skeletal-related event, treated arm vs control, among patients
    whose first relapse involves bone (time from that relapse)."""
    a, b = skeletal_event_design(treated.patients), skeletal_event_design(control.patients)
    design = pd.concat([a.assign(arm=1.0), b.assign(arm=0.0)], ignore_index=True)
    return _hr_estimate(TE.cox_table(design).loc["arm"])


def _her2_brain(later_only: bool) -> Callable[[Cohort], Estimate]:
    """Share (%) of HER2+ patients with a distant metastasis who have brain metastases (ever, or
    only those appearing after the first metastasis)."""
    return lambda c: wilson(*her2_brain_counts(c.patients, later_only=later_only))


def _pn_ratio(category: str, reference: str = "pN1a") -> Callable[[Cohort], Estimate]:
    """Patients in ``category`` per patient in ``reference``; the interval is the Wilson interval
    of the share k / (k + r) mapped to k / r."""
    def compute(c: Cohort) -> Estimate:
        counts = TE.pn_counts(c.patients)
        k, r = int(counts.get(category, 0)), int(counts.get(reference, 0))
        if r == 0:
            return Estimate(math.nan, math.nan, math.nan, k + r, "Wilson (share of the pair)")
        share = wilson(k, k + r, scale=1.0)
        odds = lambda q: q / (1 - q) if q < 1 else math.inf  # noqa: E731
        return Estimate(k / r, odds(share.low), odds(share.high), k + r, "Wilson (share of the pair)")
    return compute


def _esme(group: str) -> Callable[[Cohort], Estimate]:
    return lambda c: c.os_from_metastasis[group]


def _luminal_ratio(c: Cohort) -> Estimate:
    """Median survival after relapse, luminal A over luminal B, patients resampled jointly."""
    values, reps, counts = c.os_after_relapse_draws
    a, b = SUBTYPES.index("luminal_a"), SUBTYPES.index("luminal_b")
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = reps[:, a] / reps[:, b]
        point = float(values[a] / values[b]) if values[b] > 0 else math.nan
    draws = draws[np.isfinite(draws)]
    lo, hi = (float(x) for x in np.percentile(draws, [2.5, 97.5])) if len(draws) else (math.nan, math.nan)
    return Estimate(point, lo, hi, int(counts[a] + counts[b]), f"bootstrap ({c.boot})")


COHORT_FUNCTIONS: dict[str, Callable[..., Estimate]] = {
    "clinical.distant_relapse_10y": _distant_relapse_10y,
    "clinical.pn0": _pn0,
    "clinical.de_novo_stage_iv": _de_novo,
    "clinical.late_metastases_er_positive": _late_er,
    "dissemination.ctc_positive": _ctc,
    "dissemination.dtc_positive": _dtc,
    "dissemination.ctc5_first_line": _ctc5_first_line,
    "dissemination.tmem_odds_ratio": _tmem_or,
    "dissemination.tmem_median_cases": _tmem_median(True),
    "dissemination.tmem_median_controls": _tmem_median(False),
    **{f"sites.{s}.{o}": _site(s, o) for s in SUBTYPES for o in ORGANS4},
    **{f"lobular.{h}.{site}": _borst(h, site) for h in ("ilc", "idc") for site in BORST_ORGANS},
    **{f"survival.kennecke.{s}": _os_after_relapse(s) for s in SUBTYPES},
    "survival.bone_only_hr_positive": _bone_only,
    "clinical.de_novo_death_30d": _de_novo_early_death,
    "clinical.sentinel_negative_regional_10y": _km_risk(
        "regional", SENTINEL_YEARS, lambda c: TE.sentinel_negative(c.patients, c.sentinel_count), "sentinel"),
    "clinical.nodal_hr_pn1a": _nodal_hr("pN1a"),
    "clinical.nodal_hr_pn2a_plus": _nodal_hr("pN2a+"),
    "clinical.pn0_itc_per_pn1a": _pn_ratio("pN0(i+)"),
    "clinical.pn1mi_per_pn1a": _pn_ratio("pN1mi"),
    "survival.kennecke.luminal_a_over_b": _luminal_ratio,
    **{f"survival.esme.{g}": _esme(g) for g in TE.RECEPTOR_GROUPS},
    **{f"organs.death_hr.{o}": _death_hr(o) for o in DEATH_HR_ORGANS},
    "organs.sre_median_no_agent": _sre_median,
    "organs.sre_median_zoledronic_acid": _sre_median,
    "organs.sre_hr_denosumab_vs_zoledronic_acid": _sre_hr,
    "organs.her2.brain_ever": _her2_brain(later_only=False),
    "organs.her2.brain_after_first": _her2_brain(later_only=True),
    **{f"therapy.endocrine.rr_{k}": _rate_ratio("recurrence", "er_positive", *years)
       for k, years in ENDOCRINE_INTERVALS.items()},
    "therapy.chemotherapy.rr": _rate_ratio("recurrence", "m0"),
    "therapy.trastuzumab.rr": _rate_ratio("recurrence", "her2_positive"),
    "therapy.bone_agent.postmenopausal_distant_rr": _rate_ratio("distant", "postmenopausal"),
    "therapy.bone_agent.postmenopausal_bone_rr": _rate_ratio("bone", "postmenopausal"),
    "therapy.bone_agent.premenopausal_distant_rr": _rate_ratio("distant", "premenopausal"),
    "therapy.radiotherapy.recurrence_10y_without": _km_risk(
        "recurrence", RADIOTHERAPY_YEARS, lambda c: _after_bcs(c.patients), "bcs_without_radiotherapy"),
    "therapy.radiotherapy.recurrence_10y_with": _km_risk(
        "recurrence", RADIOTHERAPY_YEARS, lambda c: _after_bcs(c.patients), "bcs_with_radiotherapy"),
    "therapy.radiotherapy.reduction_10y": _radiotherapy_reduction,
}
"""Cohort target id -> function of the :class:`Cohort` of each run the target reads (its
``runs``, in that order: treated, then control) returning its :class:`Estimate`."""


# ----- the assay family ---------------------------------------------------------------------------

class Assays:
    """The mouse assays the assay targets read, run once each (lazily) with the default
    parameters: the same calls as ``seedsoil assay`` (:func:`seedsoil.interfaces.assays.run_assay`
    is a thin layer over :func:`seedsoil.engine.assay.simulate_assay` and
    :func:`~seedsoil.engine.assay.metastatic_potential`, called here directly so that the analysis
    layer does not import the interfaces)."""

    def __init__(self, seed: int = DEFAULT_SEED, *, intraportal_cells: int = INTRAPORTAL_CELLS,
                 intravenous_cells: int = INTRAVENOUS_CELLS, replicates: int = POTENTIAL_REPLICATES):
        self.seed = int(seed)
        self.intraportal_cells = int(intraportal_cells)
        self.intravenous_cells = int(intravenous_cells)
        self.replicates = int(replicates)

    @cached_property
    def intraportal(self):
        from seedsoil.engine.assay import simulate_assay

        return simulate_assay("intraportal", self.intraportal_cells, [3, 13], self.seed)

    @cached_property
    def intravenous(self):
        from seedsoil.engine.assay import simulate_assay

        return simulate_assay("intravenous", self.intravenous_cells, [1], self.seed)

    @cached_property
    def potential(self) -> Estimate:
        """Aceto ratio as ``seedsoil assay intravenous --clusters 4`` reports it (seed 0), with the
        spread of ``replicates`` other seeds as its interval (point ± 1.96 sd)."""
        from seedsoil.engine.assay import metastatic_potential

        point = metastatic_potential().ratio
        reps = np.array([metastatic_potential(seed=s).ratio for s in range(1, self.replicates + 1)])
        sd = float(reps.std(ddof=1)) if len(reps) > 1 else math.nan
        return Estimate(float(point), point - Z * sd, point + Z * sd, self.replicates + 1,
                        f"replicate seeds ({self.replicates})")


def _luzzi(day: float, stage: str) -> Callable[[Assays], Estimate]:
    def compute(a: Assays) -> Estimate:
        f = a.intraportal
        return wilson(f.count(day, stage), f.count(day, "injected"), scale=1.0)
    return compute


def _fidler_alive(a: Assays) -> Estimate:
    f = a.intravenous
    injected = f.count(1, "injected")
    return wilson(injected - f.count(1, "dead"), injected, scale=1.0)


ASSAY_FUNCTIONS: dict[str, Callable[[Assays], Estimate]] = {
    "mouse.luzzi.extravasated_d3": _luzzi(3, "extravasated"),
    "mouse.luzzi.micrometastases_d3": _luzzi(3, "micrometastases"),
    "mouse.luzzi.macrometastases_d13": _luzzi(13, "macrometastases"),
    "mouse.luzzi.dormant_d13": _luzzi(13, "dormant_solitary"),
    "mouse.fidler.alive_24h": _fidler_alive,
    "mouse.aceto.cluster_potential": lambda a: a.potential,
}
"""Assay target id -> function of an :class:`Assays` returning its :class:`Estimate`."""

FUNCTIONS: dict[str, Callable] = {**COHORT_FUNCTIONS, **ASSAY_FUNCTIONS}


# ----- evaluation -------------------------------------------------------------------------------

RESULT_COLUMNS = ("target_id", "theme", "family", "runs", "label", "quantity", "unit", "simulated", "ci_low", "ci_high",
                  "n", "interval", "published", "tolerance_kind", "tolerance", "accept_low", "accept_high", "passed",
                  "tolerance_basis", "population", "source", "short_source")


def evaluate(targets: Iterable[Target], cohort: Cohort | Mapping[str, Cohort] | None = None,
             assays: Assays | None = None) -> pd.DataFrame:
    """Compute every target and compare it with its band: one row per target (:data:`RESULT_COLUMNS`).

    A cohort target needs ``cohort``: run name -> :class:`Cohort` for every run it reads, or one
    Cohort that stands for every run; an assay target needs ``assays`` (built on first use when None)."""
    rows = []
    for t in targets:
        fn = FUNCTIONS.get(t.target_id)
        if fn is None:
            raise TargetTableError(f"target {t.target_id!r} has no computing function in seedsoil.analysis.targets")
        if t.family == "cohort":
            if cohort is None:
                raise ValueError(f"target {t.target_id!r} needs a cohort run")
            if isinstance(cohort, Cohort):
                args = [cohort] * len(t.runs)
            else:
                missing = [r for r in t.runs if r not in cohort]
                if missing:
                    raise ValueError(f"target {t.target_id!r} needs the run(s) {', '.join(missing)}")
                args = [cohort[r] for r in t.runs]
            est = fn(*args)
        else:
            assays = assays if assays is not None else Assays()
            est = fn(assays)
        lo, hi = t.acceptance
        rows.append({
            "target_id": t.target_id, "theme": t.theme, "family": t.family, "runs": ";".join(t.runs),
            "label": t.label, "quantity": t.quantity, "unit": t.unit,
            "simulated": est.value, "ci_low": est.low, "ci_high": est.high, "n": est.n, "interval": est.interval,
            "published": t.published, "tolerance_kind": t.tolerance_kind,
            "tolerance": t.tolerance_text, "accept_low": lo, "accept_high": hi, "passed": t.passes(est.value),
            "tolerance_basis": t.tolerance_basis, "population": t.population, "source": t.source,
            "short_source": t.short_source,
        })
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


__all__ = ["ASSAY_FUNCTIONS", "Assays", "COHORT_FUNCTIONS", "Cohort", "DEFAULT_RUN", "Estimate", "FUNCTIONS", "RUNS",
           "Target", "TargetTableError", "evaluate", "load_targets", "read_targets", "run_description", "runs_needed",
           "wilson"]
