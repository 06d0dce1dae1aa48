"""Experimental metastasis assays in the mouse, sampled cell by cell and day by day.

The four standard assays put tumour cells into a mouse and count, at chosen days, where each
injected *unit* (a single cell or a cluster) stands in the cascade:

================  ===================================  ==================================
assay             route                                first capillary bed
================  ===================================  ==================================
``intravenous``   tail vein (Fidler 1970)              lung
``intraportal``   mesenteric / portal vein (Luzzi 1998) liver
``intracardiac``  left ventricle                       none (arterial: blood flow x homing)
``orthotopic``    shed by a primary growing in the     lung (venous drainage)
                  mammary fat pad (Gompertz)
================  ===================================  ==================================

Every stage probability comes from the same biology functions as the patient engines
(:func:`~seedsoil.biology.cascade.circulation_survival`,
:func:`~seedsoil.biology.cascade.arrest_distribution` with the route's ``first_pass``,
:func:`~seedsoil.biology.cascade.extravasation`, :func:`~seedsoil.biology.cascade.fate_shares`,
:func:`~seedsoil.biology.cascade.progression_prob` with ``human=False``,
:func:`~seedsoil.biology.cascade.birth_death_survival` and
:func:`~seedsoil.biology.cascade.dormancy_rates`). What is specific to the assays is data in
``params/data/assay.csv``: the injected line's traits (``assay.trait.*``), the time course of
each step (``assay.*``), and mouse values of human parameters (``assay.mouse.<name>`` replaces
``<name>``, see :func:`mouse_parameters`).

**One unit's course** (days since injection, or since it entered the blood for the orthotopic
assay). In blood the unit arrests at hazard ``a = ln 2 / half-life`` and dies at hazard
``a (1 - s) / s``, so that it arrests before dying with the biology's circulation survival
``s``. An arrested unit either extravasates (probability = the organ's extravasation) after a
gamma-distributed delay or dies in the vessel after an exponential delay. An extravasated unit
dies (after a gamma delay), sleeps as a dormant solitary cell (awakening or dying at the
biology's dormancy rates) or founds a colony (the organ's fate shares). A colony becomes a
micrometastasis at its first division (``assay.micromet_min_cells``); it progresses with
probability progression x birth-death survival, else it regresses after a gamma delay. A
progressing colony grows as ``N(t) = W exp((b - d) t)`` from its founding, with ``W`` the
limit of a surviving linear birth-death process (gamma with shape = cells in the unit, scale
``b / (b - d)``), and is macroscopic at ``assay.macro_detection_mm``.

At every observation day each unit is in exactly one state, so
``injected = alive_in_circulation + arrested + extravasated + dead`` and ``extravasated =
dormant_solitary + micrometastases + macrometastases + (extravasated cells not yet committed)``.
``arrested`` counts units alive inside a vessel at that day.

Randomness: ``numpy.random.Generator(PCG64(SeedSequence(seed)))``, units drawn in fixed-size
chunks, so the same arguments give identical counts.

>>> f = simulate_assay("intraportal", cells=2000, observe=[3], seed=1)
>>> injected, circulating, arrested, extravasated, dead = f.counts[0, :5]
>>> bool(injected == circulating + arrested + extravasated + dead == 2000)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from seedsoil.biology import cascade
from seedsoil.biology.growth import Gompertz, diameter_to_cells
from seedsoil.biology.organs import OrganTable
from seedsoil.biology.traits import TRAIT_NAMES, Traits
from seedsoil.params import ParameterSet, default_parameters

ASSAYS = ("intravenous", "intraportal", "intracardiac", "orthotopic")
INJECTION_ASSAYS = ASSAYS[:3]
FIRST_PASS = {"intravenous": "lung", "intraportal": "liver", "intracardiac": "none", "orthotopic": "lung"}
STAGES = (
    "injected", "alive_in_circulation", "arrested", "extravasated", "dead",
    "dormant_solitary", "micrometastases", "macrometastases",
)
"""Stage keys of the assay funnel, in cascade order (counts of injected units)."""

MAX_UNITS = 20_000_000
"""Most units one assay simulates (memory and time stay bounded: about 1 s per million)."""
CHUNK = 1 << 17
"""Units drawn per chunk; fixed so that a seed always gives the same counts."""
MOUSE_PREFIX = "assay.mouse"
MINUTES_PER_DAY = 1440.0
ORTHO_GRID = 4096
"""Points of the cumulative shedding intensity inverted to draw the orthotopic shedding times."""

# a unit's state at one observation day
_NOT_YET, _CIRC, _ARRESTED, _UNDECIDED, _DORMANT, _MICRO, _MACRO, _DEAD = range(8)
# fate of an extravasated unit, as in cascade.fate_shares
_F_DORMANT, _F_MICRO, _F_DEATH = range(3)


class AssayError(ValueError):
    """Arguments an assay cannot run with (unknown assay, no cells, bad observation days, ...)."""


def mouse_parameters(params: ParameterSet | None = None) -> ParameterSet:
    """The parameter set of the mouse assays: ``params`` (default: the shipped set) with every
    ``assay.mouse.<name>`` value put in place of ``<name>``.

    >>> p = mouse_parameters()
    >>> p["organ.liver.extravasation_ease"] == p["assay.mouse.organ.liver.extravasation_ease"]
    True
    """
    p = params if params is not None else default_parameters()
    return p.with_overrides(p.group(MOUSE_PREFIX))


def assay_traits(params: ParameterSet | None = None, **changes: float) -> Traits:
    """Traits of the injected cell line (``assay.trait.*``), with ``changes`` applied."""
    p = params if params is not None else default_parameters()
    base = p.group("assay.trait")  # every row a trait: an unknown one fails below, never silently dropped
    unknown = set(changes) - set(TRAIT_NAMES)
    if unknown:
        raise AssayError(f"unknown trait(s) {sorted(unknown)}; known: {', '.join(TRAIT_NAMES)}")
    try:
        return Traits(**{**base, **changes})
    except (TypeError, ValueError) as err:
        raise AssayError(str(err)) from None


@dataclass(frozen=True)
class AssayModel:
    """Everything one assay needs, resolved from the parameters: the biology's stage
    probabilities for the line and route, and the time course of each step."""

    assay: str
    params: ParameterSet
    traits: Traits
    organs: OrganTable
    survival: np.ndarray        # (2,) single, cluster: arrest before dying in blood
    arrest: np.ndarray          # (2, organs) where arrested units lodge
    extravasation: np.ndarray   # (organs,)
    fates: np.ndarray           # (organs, 3) dormant, micrometastasis, death
    progress: np.ndarray        # (2, organs) progression x birth-death survival
    wake_share: float           # P(dormant cell awakens before dying)
    dormant_exit_rate: float    # per day: awakening + death
    arrest_rate: np.ndarray     # (2,) per day
    birth: float
    net_growth: float
    macro_cells: float

    @classmethod
    def build(cls, assay: str, params: ParameterSet | None = None, traits: Traits | None = None) -> AssayModel:
        if assay not in ASSAYS:
            raise AssayError(f"unknown assay {assay!r}; choose one of {', '.join(ASSAYS)}")
        base = params if params is not None else default_parameters()
        p = mouse_parameters(base)
        if traits is not None:
            tr = traits
        elif assay == "orthotopic":
            tr = assay_traits(p, ecad=p["assay.orthotopic.ecad"])
        else:
            tr = assay_traits(p)
        organs = OrganTable.from_params(p)
        birth, death = p["colony.birth_rate_per_day"], p["colony.death_rate_per_day"]
        if not birth > death:
            raise AssayError(f"colony birth rate ({birth:g}/day) must exceed the death rate ({death:g}/day)")
        bd = cascade.birth_death_survival(p)
        wake, die = cascade.dormancy_rates(tr, p)
        half = np.array([p["assay.circulation_half_life_min.single"], p["assay.circulation_half_life_min.cluster"]])
        return cls(
            assay=assay, params=p, traits=tr, organs=organs,
            survival=np.clip(cascade.circulation_survival(tr, p), 1e-12, 1.0),
            arrest=cascade.arrest_distribution(tr, organs, p, first_pass=FIRST_PASS[assay]),
            extravasation=cascade.extravasation(tr, organs, p),
            fates=cascade.fate_shares(organs),
            progress=np.minimum(cascade.progression_prob(tr, organs, p, human=False) * bd, 1.0),
            wake_share=wake / (wake + die) if wake + die > 0 else 0.0,
            dormant_exit_rate=wake + die,
            arrest_rate=math.log(2.0) * MINUTES_PER_DAY / half,
            birth=birth, net_growth=birth - death,
            macro_cells=float(diameter_to_cells(p["assay.macro_detection_mm"], p["cells.per_mm3"])),
        )

    # --- time course -------------------------------------------------------------------

    def _gamma(self, rng: np.random.Generator, name: str, n: int) -> np.ndarray:
        k = self.params[f"assay.{name}_shape"]
        return rng.gamma(k, self.params[f"assay.{name}_mean_days"] / k, n)

    def timings(self, rng: np.random.Generator, cls: np.ndarray, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Delays (days) of every step for units of class ``cls`` with ``cells`` cells each, drawn
        whether or not the unit will take that step (the stage logic picks the relevant ones)."""
        n = len(cls)
        p = self.params
        extra = max(0.0, math.log(p["assay.micromet_min_cells"] / 2.0)) / self.net_growth
        return {
            "circ": rng.exponential(1.0, n) * self.survival[cls] / self.arrest_rate[cls],
            "extravasate": self._gamma(rng, "extravasation", n),
            "vessel_death": rng.exponential(p["assay.intravascular_death_mean_days"], n),
            "tissue_death": self._gamma(rng, "extravascular_death", n),
            "dormant_exit": (rng.exponential(1.0 / self.dormant_exit_rate, n) if self.dormant_exit_rate > 0
                             else np.full(n, np.inf)),
            "onset": self._gamma(rng, "first_division", n) + extra,
            "macro": np.log(self.macro_cells / rng.gamma(cells, self.birth / self.net_growth)) / self.net_growth,
            "regress": self._gamma(rng, "micromet_regression", n),
        }


def _states(t: float, entry: np.ndarray, tim: Mapping[str, np.ndarray], circ_ok, ext_ok, fate, awaken, progress) -> np.ndarray:
    """State of each unit at day ``t`` from its entry day, step delays and path (booleans or a
    fate code per unit; scalars broadcast)."""
    t_exit = entry + tim["circ"]
    t_ext = t_exit + tim["extravasate"]
    t_dormant_end = t_ext + tim["dormant_exit"]
    t_found = np.where(fate == _F_MICRO, t_ext, t_dormant_end)
    t_onset = t_found + tim["onset"]
    t_macro = np.maximum(t_found + tim["macro"], t_onset)
    conditions = [
        t < entry,
        t < t_exit,
        ~np.asarray(circ_ok),
        ~np.asarray(ext_ok) & (t < t_exit + tim["vessel_death"]),
        ~np.asarray(ext_ok),
        t < t_ext,
        (fate == _F_DEATH) & (t < t_ext + tim["tissue_death"]),
        fate == _F_DEATH,
        (fate == _F_DORMANT) & (t < t_dormant_end),
        (fate == _F_DORMANT) & ~np.asarray(awaken),
        t < t_onset,
        np.asarray(progress) & (t < t_macro),
        np.asarray(progress),
        t < t_onset + tim["regress"],
    ]
    choices = [_NOT_YET, _CIRC, _DEAD, _ARRESTED, _DEAD, _ARRESTED, _UNDECIDED, _DEAD, _DORMANT, _DEAD,
               _UNDECIDED, _MICRO, _MACRO, _MICRO]
    return np.select(conditions, choices, default=_DEAD)


def _stage_counts(states: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts in STAGES order (injected = every unit that has entered) and the undecided count."""
    c = np.bincount(states, minlength=8)
    extravasated = c[_UNDECIDED] + c[_DORMANT] + c[_MICRO] + c[_MACRO]
    injected = len(states) - c[_NOT_YET]
    return np.array([injected, c[_CIRC], c[_ARRESTED], extravasated, c[_DEAD], c[_DORMANT], c[_MICRO], c[_MACRO]],
                    dtype=np.int64), int(c[_UNDECIDED])


@dataclass
class AssayFunnel:
    """Counts of injected units by stage at each observation day (one simulated population)."""

    assay: str
    days: tuple[float, ...]
    counts: np.ndarray                 # (days, len(STAGES)) int64
    undecided: np.ndarray              # (days,) extravasated, alive, not yet dormant or dividing
    arrested_by_organ: np.ndarray      # (days, organs) alive in a vessel
    macrometastases_by_organ: np.ndarray  # (days, organs)
    organs: tuple[str, ...]
    cells_per_unit: float
    seed: int
    primary_cells: np.ndarray | None = None  # orthotopic only: primary size at each day
    meta: dict = field(default_factory=dict)

    def fractions(self) -> np.ndarray:
        """Counts divided by the injected units of the same day (NaN where none entered yet)."""
        inj = self.counts[:, :1].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(inj > 0, self.counts / inj, np.nan)

    def count(self, day: float, stage: str) -> int:
        return int(self.counts[self.days.index(float(day)), STAGES.index(stage)])

    def fraction(self, day: float, stage: str) -> float:
        return float(self.fractions()[self.days.index(float(day)), STAGES.index(stage)])

    def to_dict(self) -> dict[str, dict]:
        """``{day: {stage: {"count": int, "fraction": float | None}, "arrested_by_organ": {...},
        "macrometastases_by_organ": {...}}}`` with days as short strings ('1', '0.5')."""
        out: dict[str, dict] = {}
        frac = self.fractions()
        for i, day in enumerate(self.days):
            entry: dict[str, object] = {}
            for j, stage in enumerate(STAGES):
                f = frac[i, j]
                entry[stage] = {"count": int(self.counts[i, j]), "fraction": None if math.isnan(f) else float(f)}
            entry["arrested_by_organ"] = {o: int(c) for o, c in zip(self.organs, self.arrested_by_organ[i]) if c}
            entry["macrometastases_by_organ"] = {o: int(c) for o, c in zip(self.organs, self.macrometastases_by_organ[i]) if c}
            if self.primary_cells is not None:
                entry["primary_cells"] = float(self.primary_cells[i])
            out[day_key(day)] = entry
        return out


def day_key(day: float) -> str:
    """A day as a JSON key: ``13`` -> '13', ``0.5`` -> '0.5'."""
    return f"{float(day):g}"


def check_days(observe: Sequence[float]) -> tuple[float, ...]:
    """Observation days as a sorted tuple of distinct positive finite floats (else AssayError)."""
    try:
        days = [float(d) for d in observe]
    except (TypeError, ValueError):
        raise AssayError(f"observation days must be numbers, not {observe!r}") from None
    if not days:
        raise AssayError("give at least one observation day")
    bad = [d for d in days if not (math.isfinite(d) and d > 0)]
    if bad:
        raise AssayError(f"observation days must be positive numbers of days, not {bad[0]:g}")
    return tuple(sorted(set(days)))


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or not float(value).is_integer():
        raise AssayError(f"{name} must be a whole number, not {value!r}")
    if int(value) < minimum:
        raise AssayError(f"{name} must be at least {minimum}, not {int(value)}")
    return int(value)


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))


def _sample_paths(rng: np.random.Generator, m: AssayModel, cls: np.ndarray):
    """Each unit's path through the cascade: (survives blood, organ, extravasates, fate,
    awakens, progresses), one uniform per decision."""
    n = len(cls)
    u = rng.random((6, n))
    circ_ok = u[0] < m.survival[cls]
    cum = np.cumsum(m.arrest, axis=1)
    cum[:, -1] = 1.0
    organ = np.minimum((u[1][:, None] > cum[cls]).sum(axis=1), len(m.organs.names) - 1)
    ext_ok = circ_ok & (u[2] < m.extravasation[organ])
    fcum = np.cumsum(m.fates, axis=1)
    fcum[:, -1] = 1.0
    fate = np.minimum((u[3][:, None] > fcum[organ]).sum(axis=1), 2)
    awaken = u[4] < m.wake_share
    progress = u[5] < m.progress[cls, organ]
    return circ_ok, organ, ext_ok, fate, awaken, progress


def _run_units(m: AssayModel, rng: np.random.Generator, days: tuple[float, ...], entry: np.ndarray,
               cls: np.ndarray, cells: np.ndarray):
    """Simulate the given units chunk by chunk; accumulate counts at every day."""
    n_org = len(m.organs.names)
    counts = np.zeros((len(days), len(STAGES)), dtype=np.int64)
    undecided = np.zeros(len(days), dtype=np.int64)
    arrested = np.zeros((len(days), n_org), dtype=np.int64)
    macro = np.zeros((len(days), n_org), dtype=np.int64)
    for lo in range(0, len(cls), CHUNK):
        sl = slice(lo, lo + CHUNK)
        c, k, e = cls[sl], cells[sl], entry[sl]
        circ_ok, organ, ext_ok, fate, awaken, progress = _sample_paths(rng, m, c)
        tim = m.timings(rng, c, k)
        for i, t in enumerate(days):
            st = _states(t, e, tim, circ_ok, ext_ok, fate, awaken, progress)
            cnt, und = _stage_counts(st)
            counts[i] += cnt
            undecided[i] += und
            arrested[i] += np.bincount(organ[st == _ARRESTED], minlength=n_org)
            macro[i] += np.bincount(organ[st == _MACRO], minlength=n_org)
    return counts, undecided, arrested, macro


def orthotopic_primary(cells: int, params: ParameterSet) -> Gompertz:
    """Gompertz growth of ``cells`` implanted cells in the mammary fat pad (``assay.orthotopic.*``)."""
    p = params
    law = Gompertz.from_doubling_time(p["assay.orthotopic.vdt_days"], p["assay.orthotopic.reference_cells"],
                                      p["assay.orthotopic.capacity_cells"])
    if not cells < law.capacity:
        raise AssayError(f"cannot implant {cells} cells: the primary's capacity is {law.capacity:g} cells")
    return Gompertz(rate=law.rate, capacity=law.capacity, n0=float(cells))


def _shed_units(m: AssayModel, rng: np.random.Generator, law: Gompertz, t_max: float):
    """Units entering the blood from the primary up to ``t_max``: a Poisson process of intensity
    ``blood rate x N(t)`` per class; times by inverting the cumulative intensity."""
    p = m.params
    sh = cascade.shedding(m.traits, p["tmem.reference_score"], p)
    grid = np.linspace(0.0, t_max, ORTHO_GRID + 1)
    cum = np.concatenate([[0.0], np.cumsum(law.integral(grid[:-1], grid[1:]))])
    expected = sh.blood * cum[-1]
    if expected.sum() > MAX_UNITS:
        raise AssayError(f"the primary would shed about {expected.sum():.3g} units by day {t_max:g}, more than "
                         f"{MAX_UNITS:.0e} can be followed; implant fewer cells or observe earlier")
    n = rng.poisson(expected)
    cls = np.repeat(np.arange(2), n)
    entry = np.interp(rng.random(len(cls)) * cum[-1], cum, grid)
    cells = np.where(cls == cascade.CLUSTER, sh.cluster_mean_size, 1.0)
    return entry, cls, cells


def simulate_assay(assay: str, cells: int, observe: Sequence[float], seed: int, *, cluster_size: int = 1,
                   params: ParameterSet | None = None, traits: Traits | None = None) -> AssayFunnel:
    """Run one assay and count its units by stage at each observation day.

    ``cells`` is the number of cells injected (injection assays; with ``cluster_size`` k > 1
    they are injected as ``cells // k`` clusters of k cells) or implanted in the fat pad
    (``orthotopic``, where the units are those the growing primary sheds into the blood by each
    day). ``params`` is a full parameter set (mouse values are applied on top of it).
    """
    days = check_days(observe)
    cells = _check_int("cells", cells, 1)
    cluster_size = _check_int("cluster size", cluster_size, 1)
    seed = _check_int("seed", seed, 0)
    m = AssayModel.build(assay, params, traits)
    rng = _rng(seed)
    primary = None
    if assay == "orthotopic":
        if cluster_size != 1:
            raise AssayError("clusters apply to the injection assays; an orthotopic primary sheds its own "
                             "clusters (set by E-cadherin)")
        law = orthotopic_primary(cells, m.params)
        entry, cls, unit_cells = _shed_units(m, rng, law, max(days))
        primary = np.asarray(law.size(np.array(days)), dtype=float)
        cells_per_unit = float(unit_cells.mean()) if len(unit_cells) else 1.0
    else:
        if cells < cluster_size:
            raise AssayError(f"cannot make a cluster of {cluster_size} cells from {cells} cells")
        units = cells // cluster_size
        if units > MAX_UNITS:
            raise AssayError(f"{units} units is more than {MAX_UNITS:.0e} can be followed; inject fewer cells")
        cls = np.full(units, cascade.CLUSTER if cluster_size > 1 else cascade.SINGLE, dtype=np.int64)
        entry = np.zeros(units)
        unit_cells = np.full(units, float(cluster_size))
        cells_per_unit = float(cluster_size)
    counts, undecided, arrested, macro = _run_units(m, rng, days, entry, cls, unit_cells)
    return AssayFunnel(assay=assay, days=days, counts=counts, undecided=undecided, arrested_by_organ=arrested,
                       macrometastases_by_organ=macro, organs=m.organs.names, cells_per_unit=cells_per_unit,
                       seed=seed, primary_cells=primary,
                       meta={"cells": cells, "cluster_size": cluster_size, "units": int(len(cls))})


# --- expectations ----------------------------------------------------------------------------

def _path_weights(m: AssayModel, u: int) -> list[tuple[float, dict]]:
    """The eight kinds of course a unit of class ``u`` can take, with their probabilities
    (summed over organs) and the path flags that :func:`_states` needs."""
    s, a, e, f, q, w = m.survival[u], m.arrest[u], m.extravasation, m.fates, m.progress[u], m.wake_share
    ext = s * a * e  # per organ: arrests there and extravasates
    T, F = True, False
    return [
        (1.0 - s, dict(circ_ok=F, ext_ok=F, fate=_F_DEATH, awaken=F, progress=F)),
        (float(s * (a * (1.0 - e)).sum()), dict(circ_ok=T, ext_ok=F, fate=_F_DEATH, awaken=F, progress=F)),
        (float((ext * f[:, _F_DEATH]).sum()), dict(circ_ok=T, ext_ok=T, fate=_F_DEATH, awaken=F, progress=F)),
        (float((ext * f[:, _F_DORMANT]).sum() * (1 - w)), dict(circ_ok=T, ext_ok=T, fate=_F_DORMANT, awaken=F, progress=F)),
        (float((ext * f[:, _F_DORMANT] * q).sum() * w), dict(circ_ok=T, ext_ok=T, fate=_F_DORMANT, awaken=T, progress=T)),
        (float((ext * f[:, _F_DORMANT] * (1 - q)).sum() * w), dict(circ_ok=T, ext_ok=T, fate=_F_DORMANT, awaken=T, progress=F)),
        (float((ext * f[:, _F_MICRO] * q).sum()), dict(circ_ok=T, ext_ok=T, fate=_F_MICRO, awaken=F, progress=T)),
        (float((ext * f[:, _F_MICRO] * (1 - q)).sum()), dict(circ_ok=T, ext_ok=T, fate=_F_MICRO, awaken=F, progress=F)),
    ]


def expected_fractions(assay: str, observe: Sequence[float], *, cluster_size: int = 1, params: ParameterSet | None = None,
                       traits: Traits | None = None, samples: int = 200_000, seed: int = 0) -> np.ndarray:
    """Expected fraction of injected units in each stage (rows: days, columns: STAGES) for an
    injection assay: exact path probabilities from the biology, times averaged over ``samples``
    draws of the step delays. Rare stages (macrometastases at 1e-4) come out as precisely as
    common ones, which sampling a million cells cannot give."""
    if assay not in INJECTION_ASSAYS:
        raise AssayError(f"expected fractions are defined for the injection assays ({', '.join(INJECTION_ASSAYS)})")
    days = check_days(observe)
    cluster_size = _check_int("cluster size", cluster_size, 1)
    m = AssayModel.build(assay, params, traits)
    u = cascade.CLUSTER if cluster_size > 1 else cascade.SINGLE
    rng = _rng(seed)
    n = int(samples)
    tim = m.timings(rng, np.full(n, u), np.full(n, float(cluster_size)))
    out = np.zeros((len(days), len(STAGES)))
    entry = np.zeros(n)
    for weight, path in _path_weights(m, u):
        if weight <= 0:
            continue
        for i, t in enumerate(days):
            cnt, _ = _stage_counts(_states(t, entry, tim, **path))
            out[i] += weight * cnt / n
    return out


@dataclass(frozen=True)
class MetastaticPotential:
    """Clusters versus single cells in one injection assay (Aceto et al. 2014).

    ``per_unit_*``: expected macroscopic metastases per injected unit at ``day``;
    ``per_cell_*``: the same per injected cell-equivalent (a cluster of k cells counts k);
    ``ratio``: per-cell potential of clusters over that of single cells, the quantity Aceto
    et al. report as 23-50; ``unit_ratio``: the same per unit."""

    assay: str
    cluster_size: int
    day: float
    per_unit_single: float
    per_unit_cluster: float

    @property
    def per_cell_single(self) -> float:
        return self.per_unit_single

    @property
    def per_cell_cluster(self) -> float:
        return self.per_unit_cluster / self.cluster_size

    @property
    def ratio(self) -> float:
        return self.per_cell_cluster / self.per_cell_single if self.per_cell_single > 0 else math.inf

    @property
    def unit_ratio(self) -> float:
        return self.per_unit_cluster / self.per_unit_single if self.per_unit_single > 0 else math.inf


def metastatic_potential(cluster_size: int | None = None, *, assay: str = "intravenous", day: float | None = None,
                         params: ParameterSet | None = None, traits: Traits | None = None,
                         samples: int = 200_000, seed: int = 0) -> MetastaticPotential:
    """Metastatic potential of clusters relative to single cells, defined as Aceto et al. 2014
    compared them: macroscopic metastases at ``day`` (default ``assay.potential_observe_days``)
    per injected cell-equivalent, for clusters of ``cluster_size`` cells (default
    ``assay.cluster_size``) over single cells, both injected by the same route (default
    intravenous). Computed from :func:`expected_fractions`, so it needs no huge sample.

    >>> 23 <= metastatic_potential(samples=20_000).ratio <= 50
    True
    """
    p = params if params is not None else default_parameters()
    k = _check_int("cluster size", cluster_size if cluster_size is not None else p["assay.cluster_size"], 2)
    t = float(day) if day is not None else p["assay.potential_observe_days"]
    col = STAGES.index("macrometastases")
    single = expected_fractions(assay, [t], cluster_size=1, params=p, traits=traits, samples=samples, seed=seed)[0, col]
    cluster = expected_fractions(assay, [t], cluster_size=k, params=p, traits=traits, samples=samples, seed=seed)[0, col]
    return MetastaticPotential(assay, k, t, float(single), float(cluster))


# --- human-scale efficiency (Coumans 2013) -----------------------------------------------------

COUMANS_CELLS_PER_METASTASIS = 6e7
"""Coumans et al. 2013 BMC Cancer 13:283: about one distant metastasis per 6e7 disseminated cells."""


@dataclass(frozen=True)
class DisseminationEfficiency:
    """Colonies (metastases that escaped early extinction) per unit shed, over a human cohort
    simulated by the fast engine on the default parameters."""

    patients: int
    seed: int
    shed: int
    entered_blood: int
    colonies: int

    @property
    def per_shed_unit(self) -> float:
        return self.colonies / self.shed if self.shed else math.nan

    @property
    def units_per_metastasis(self) -> float:
        return self.shed / self.colonies if self.colonies else math.inf

    @property
    def blood_units_per_metastasis(self) -> float:
        return self.entered_blood / self.colonies if self.colonies else math.inf

    reference_cells_per_metastasis: float = COUMANS_CELLS_PER_METASTASIS


def metastases_per_disseminated_cell(patients: int = 2000, seed: int = 20261121, scenario: str = "default") -> DisseminationEfficiency:
    """(Total colonies) / (total units shed) over a cohort of the human model (fast engine,
    ``scenario``'s parameters untouched), to set beside Coumans et al. 2013 (one metastasis per
    about 6e7 disseminated cells)."""
    from seedsoil.engine.fast import FastEngine
    from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES
    from seedsoil.engine.streams import BLOCK_PATIENTS, blocks_for
    from seedsoil.scenario import load_scenario

    patients = _check_int("patients", patients, 1)
    sc, p = _load(scenario) if isinstance(scenario, str) else load_scenario(scenario)
    eng = FastEngine(sc, p)
    col = FUNNEL_SITES.index("all")
    shed_row, blood_row = FUNNEL_STAGES.index("shed"), FUNNEL_STAGES.index("entered_blood")
    shed = blood = colonies = 0
    for block in blocks_for(0, patients):
        h = eng.simulate_block(block, seed)
        h = h.take(np.arange(min(BLOCK_PATIENTS, patients - block * BLOCK_PATIENTS)))
        shed += int(h.funnel[:, shed_row, col].sum())
        blood += int(h.funnel[:, blood_row, col].sum())
        colonies += len(h.colonies)
    return DisseminationEfficiency(patients, int(seed), shed, blood, colonies)


@lru_cache(maxsize=4)
def _load(name: str):
    from seedsoil.scenario import load_scenario

    return load_scenario(name)


__all__ = [
    "ASSAYS", "AssayError", "AssayFunnel", "AssayModel", "DisseminationEfficiency", "MetastaticPotential", "STAGES",
    "assay_traits", "check_days", "day_key", "expected_fractions", "metastases_per_disseminated_cell",
    "metastatic_potential", "mouse_parameters", "simulate_assay",
]
