"""Bone remodelling and the vicious cycle: osteoclasts ``C``, osteoblasts ``B``, local bone mass
``z`` (% of normal) and tumour ``T`` at one remodelling site (days).

The cell model is Komarova et al. 2003 (Bone 33:206): power-law autocrine/paracrine production,
linear removal, bone resorbed and formed by the cells above their steady state. Its tumour
extension is Ayati et al. 2010 (Biol Direct 5:28): a Gompertz tumour whose size ``T/LT``
bends the exponents (``r11``, ``r21``, ``r12``, ``r22``). seedsoil closes the seed documents'
loop explicitly, with terms that vanish at their defaults so both published models are
reproduced exactly:

* **PTHrP -> RANKL -> osteoclasts.** The tumour's PTHrP signal ``s`` (its ``pthrp`` trait times
  a saturating function of its size, raised by TGF-beta) replaces Ayati's ``T/LT`` and raises
  osteoblast RANKL, multiplying osteoclast production by ``1 + rankl_gain s``.
* **Resorption releases TGF-beta** from the matrix: ``G = tgf_release k1 y1 z/100``.
* **TGF-beta feeds the tumour**: growth rate x ``(1 + tgf_growth G)``, PTHrP x ``(1 + tgf_pthrp G)``.
* **Bone is finite**: in seedsoil's set (``matrix_limited``) resorption slows as the local
  bone mass runs out (``x z/100``), so ``z`` stays in [0, 100] under a growing lesion.
* **Bone-targeted agents**: denosumab blocks RANKL (osteoclast production x ``1 - effect``);
  bisphosphonates raise osteoclast death (removal x ``1 + effect``); doses on a schedule with
  first-order elimination and an Emax effect (:class:`BoneAgent`).

Pure functions and dataclasses; the ODE is solved with scipy (LSODA), split at every dose and
at the published treatment onset.

>>> k = BoneParameters.from_values(komarova_values())
>>> [round(float(x), 2) for x in k.steady_state()]
[1.06, 212.13]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy.integrate import solve_ivp

from seedsoil.biology.growth import Gompertz
from seedsoil.params import ParameterSet

CAPACITY_UNITS = 100.0
"""Tumour capacity in the model's units (Ayati's LT): T = 100 x cells / carrying capacity."""
STATES = ("osteoclasts", "osteoblasts", "bone_mass", "tumour")
DRUGS = ("denosumab", "zoledronic_acid")
PUBLISHED_KEYS = {  # names in reference/bone_models.csv -> fields
    "alpha1": "alpha1", "alpha2": "alpha2", "beta1": "beta1", "beta2": "beta2", "g11": "g11", "g21": "g21",
    "g12": "g12", "g22": "g22", "k1": "k1", "k2": "k2", "gammaT": "gamma_t", "LT": "capacity_t",
    "r11": "r11", "r21": "r21", "r12": "r12", "r22": "r22", "v1": "v1", "v2": "v2",
    "C0": "c0", "B0": "b0", "z0": "z0", "T0": "t0", "treatment_day": "treatment_day",
}


class BoneModelError(ValueError):
    """Parameters with which the bone model has no finite course (osteoclasts or osteoblasts
    outgrow their removal, or the steady state is undefined)."""


def gamma(g11: float, g21: float, g12: float, g22: float) -> float:
    """Komarova's gamma ``g12 g21 - (1 - g11)(1 - g22)`` of the four exponents: the steady state
    raises rate ratios to powers 1/gamma, so it is undefined at 0 (Ayati's with tumour-bent exponents)."""
    return g12 * g21 - (1.0 - g11) * (1.0 - g22)


def komarova_values() -> dict[str, float]:
    """Komarova 2003's published values (BIOMD0000000148), for doctests and defaults."""
    return {"alpha1": 3.0, "alpha2": 4.0, "beta1": 0.2, "beta2": 0.02, "g11": 0.5, "g21": -0.5, "g12": 1.0,
            "g22": 0.0, "k1": 0.24, "k2": 0.0017, "C0": 11.0, "B0": 212.0, "z0": 100.0, "T0": 0.0}


@dataclass(frozen=True)
class BoneParameters:
    """One parameter set of the bone model (rates per day; cells in the models' units; ``T`` in
    units of its capacity ``capacity_t``). Fields beyond Ayati's are seedsoil's loop; at their
    defaults (0, ``pthrp`` 1, ``signal_scale`` 1) the equations are the published ones."""

    alpha1: float
    alpha2: float
    beta1: float
    beta2: float
    g11: float
    g21: float
    g12: float
    g22: float
    k1: float
    k2: float
    gamma_t: float = 0.0
    capacity_t: float = 100.0
    r11: float = 0.0
    r21: float = 0.0
    r12: float = 0.0
    r22: float = 0.0
    v1: float = 0.0
    v2: float = 0.0
    treatment_day: float = math.inf
    c0: float = 1.0
    b0: float = 1.0
    z0: float = 100.0
    t0: float = 0.0
    pthrp: float = 1.0
    signal_scale: float = 1.0
    rankl_gain: float = 0.0
    tgf_release: float = 0.0
    tgf_growth: float = 0.0
    tgf_pthrp: float = 0.0
    reference_signal: float = 1.0
    matrix_limited: bool = False
    rankl_block: float = 0.0
    osteoclast_death_gain: float = 0.0

    def __post_init__(self) -> None:
        for name in ("alpha1", "alpha2", "beta1", "beta2", "k1", "k2", "capacity_t", "signal_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"bone parameter {name} = {getattr(self, name)!r}: must be positive")
        if not 0 <= self.rankl_block <= 1:
            raise ValueError(f"bone parameter rankl_block = {self.rankl_block!r}: must be in [0, 1]")
        for name in ("gamma_t", "c0", "b0", "z0", "t0", "pthrp", "rankl_gain", "tgf_release", "tgf_growth",
                     "tgf_pthrp", "v1", "v2", "osteoclast_death_gain"):
            if getattr(self, name) < 0:
                raise ValueError(f"bone parameter {name} = {getattr(self, name)!r}: must not be negative")
        if self.t0 > self.capacity_t:
            raise ValueError(f"bone parameter t0 = {self.t0!r}: must not exceed capacity_t = {self.capacity_t!r}")
        if self.gamma_reference() == 0:
            raise BoneModelError("bone parameters give gamma = 0: the steady state is undefined")

    @classmethod
    def from_values(cls, values: Mapping[str, float], **extra: float) -> BoneParameters:
        """From a published set (names as in reference/bone_models.csv) plus seedsoil fields."""
        known = {f.name for f in fields(cls)}
        kw: dict[str, float] = {}
        for k, v in values.items():
            name = PUBLISHED_KEYS.get(k, k)
            if name not in known:
                raise ValueError(f"unknown bone parameter {k!r}: allowed are {', '.join(sorted(PUBLISHED_KEYS))}")
            kw[name] = float(v)
        for k in extra:
            if k not in known:
                raise ValueError(f"unknown bone parameter {k!r}")
        kw.update(extra)
        return cls(**kw)

    @classmethod
    def from_params(cls, p: ParameterSet, pthrp: float = 1.0, rate: float | None = None,
                    cells: float = 1.0) -> BoneParameters:
        """seedsoil's set from the registry (``bone.*``): Komarova's cells, Ayati's tumour
        coupling, the explicit loop; a lesion of ``cells`` cells growing at ``rate`` per day
        (default ``bone.reference_growth_rate_per_day``) towards ``growth.carrying_capacity_cells``
        (= ``capacity_t`` 100), from the tumour-free steady state."""
        g = p.group("bone")
        base = cls(**{k: g[k] for k in ("alpha1", "alpha2", "beta1", "beta2", "g11", "g21", "g12", "g22", "k1",
                                        "k2")})
        c0, b0 = base.steady_state()
        capacity = p["growth.carrying_capacity_cells"]
        return replace(base, r11=g["r11"], r21=g["r21"], r12=g["r12"], r22=g["r22"],
                       gamma_t=p["bone.reference_growth_rate_per_day"] if rate is None else rate,
                       capacity_t=CAPACITY_UNITS, t0=CAPACITY_UNITS * cells / capacity, c0=c0, b0=b0, z0=100.0,
                       pthrp=pthrp, signal_scale=capacity / g["signal_half_cells"], reference_signal=0.0, matrix_limited=True, rankl_gain=g["rankl_gain"],
                       tgf_release=g["tgf_release"], tgf_growth=g["tgf_growth"], tgf_pthrp=g["tgf_pthrp"])

    def with_(self, **changes: float) -> BoneParameters:
        return replace(self, **changes)

    @property
    def has_tumour(self) -> bool:
        return self.t0 > 0

    # -- steady states (closed form) ---------------------------------------------------------
    def gamma_reference(self) -> float:
        """Ayati's gamma (Komarova's when every r is 0): ``g12' g21' - (1 - g11') (1 - g22')``."""
        return gamma(*self._exponents(1.0))

    def _exponents(self, s):
        return (self.g11 * (1.0 + self.r11 * s), self.g21 * (1.0 + self.r21 * s),
                self.g12 / (1.0 + self.r12 * s), self.g22 - self.r22 * s)

    def steady_state(self, signal: float | None = None) -> tuple[float, float]:
        """Non-trivial steady state (C, B) of the cell equations at a fixed tumour signal ``s``.

        ``None`` is the reference above which cells resorb or form bone: Komarova's tumour-free
        state, or for a tumour model the state at ``reference_signal`` (1 for Ayati's C_bar, B_bar,
        evaluated at ``T = LT``; 0 for seedsoil's lesions, whose bone was normal before them).
        With ``rankl_gain`` > 0 the RANKL factor at ``s`` enters as a larger alpha1."""
        s = (self.reference_signal if self.has_tumour else 0.0) if signal is None else signal
        g11, g21, g12, g22 = self._exponents(s)
        gam = gamma(g11, g21, g12, g22)
        a1 = self.alpha1 * (1.0 + self.rankl_gain * s) if signal is not None else self.alpha1
        q1, q2 = self.beta1 / a1, self.beta2 / self.alpha2
        if gam == 0:
            raise BoneModelError("the bone model's g12 g21 - (1 - g11)(1 - g22) is 0: no steady state")
        with np.errstate(over="ignore", invalid="ignore"):
            c = np.float64(q1) ** ((1.0 - g22) / gam) * np.float64(q2) ** (g21 / gam)
            b = np.float64(q1) ** (g12 / gam) * np.float64(q2) ** ((1.0 - g11) / gam)
        if not (np.isfinite(c) and np.isfinite(b) and c > 0 and b > 0):
            raise BoneModelError(f"the bone model's steady state is not finite (osteoclasts {float(c):.3g}, "
                                 f"osteoblasts {float(b):.3g}): g12 g21 - (1 - g11)(1 - g22) = {gam:.3g} is too near 0")
        return float(c), float(b)


@dataclass(frozen=True)
class AgentKinetics:
    """First-order elimination and Emax effect of a bone-targeted drug (days, mg)."""

    half_life_days: float
    ec50_mg: float
    emax: float

    def __post_init__(self) -> None:
        if not (self.half_life_days > 0 and self.ec50_mg > 0 and self.emax >= 0):
            raise ValueError(f"invalid agent kinetics {self}: half-life and EC50 positive, Emax not negative")


def agent_kinetics(p: ParameterSet) -> dict[str, AgentKinetics]:
    """Kinetics of every bone-targeted drug from the registry (``bone.<drug>.*``)."""
    return {d: AgentKinetics(p[f"bone.{d}.half_life_days"], p[f"bone.{d}.ec50_mg"], p[f"bone.{d}.emax"])
            for d in DRUGS}


@dataclass(frozen=True)
class BoneAgent:
    """A bone-targeted drug on a schedule: ``dose_mg`` every ``interval_days`` from ``start_day``
    up to (not including) ``stop_day``. Denosumab blocks RANKL; zoledronic acid (a
    bisphosphonate) raises osteoclast death."""

    drug: str
    dose_mg: float
    interval_days: float
    start_day: float = 0.0
    stop_day: float = math.inf

    def __post_init__(self) -> None:
        if self.drug not in DRUGS:
            raise ValueError(f"unknown bone agent {self.drug!r}: allowed are {', '.join(DRUGS)}")
        if not (math.isfinite(self.dose_mg) and self.dose_mg > 0):
            raise ValueError(f"{self.drug} dose_mg = {self.dose_mg!r}: must be a positive number of mg")
        if not (math.isfinite(self.interval_days) and self.interval_days > 0):
            raise ValueError(f"{self.drug} interval_days = {self.interval_days!r}: must be positive")
        if not (self.start_day >= 0 and math.isfinite(self.start_day)):
            raise ValueError(f"{self.drug} start_day = {self.start_day!r}: must be a day >= 0")
        if not self.stop_day > self.start_day:
            raise ValueError(f"{self.drug} stop_day = {self.stop_day!r} must come after start_day = {self.start_day!r}")

    def dose_days(self, horizon: float) -> np.ndarray:
        """Days of the doses given before ``horizon``."""
        end = min(self.stop_day, horizon)
        if end <= self.start_day:
            return np.empty(0)
        return self.start_day + self.interval_days * np.arange(math.ceil((end - self.start_day) / self.interval_days))

    def amount(self, t, kinetics: AgentKinetics, horizon: float = math.inf):
        """Drug left (mg) at days ``t``: every dose given by then, decaying with the half-life."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        doses = self.dose_days(min(horizon, float(t.max()) + 1.0))
        if not doses.size:
            return np.zeros_like(t)
        k = math.log(2.0) / kinetics.half_life_days
        lag = t[:, None] - doses[None, :]
        return self.dose_mg * np.where(lag >= 0, np.exp(-k * np.maximum(lag, 0.0)), 0.0).sum(axis=1)

    def steady_effect(self, kinetics: AgentKinetics, points: int = 64) -> float:
        """Mean effect over one dosing interval once doses have accumulated (an ongoing
        schedule's average, used where a lesion's course is tabulated once)."""
        k = math.log(2.0) / kinetics.half_life_days
        lag = np.linspace(0.0, self.interval_days, points, endpoint=False)
        a = self.dose_mg * np.exp(-k * lag) / -math.expm1(-k * self.interval_days)
        return float(np.mean(kinetics.emax * a / (a + kinetics.ec50_mg)))

    def effect(self, t, kinetics: AgentKinetics):
        """Fractional effect (0..Emax) at days ``t``: ``Emax A / (A + EC50)``."""
        a = self.amount(t, kinetics)
        return kinetics.emax * a / (a + kinetics.ec50_mg)


@dataclass(frozen=True)
class BoneCourse:
    """A solved time course: days and, per day, the four states plus the loop's signals."""

    t: np.ndarray
    osteoclasts: np.ndarray
    osteoblasts: np.ndarray
    bone_mass: np.ndarray
    tumour: np.ndarray
    pthrp_signal: np.ndarray
    tgf_beta: np.ndarray
    rankl_block: np.ndarray
    osteoclast_death_gain: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {"day": self.t, **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "t"}}


@dataclass(frozen=True)
class BoneModel:
    """The bone model with its parameters and the agents given (see the module docstring)."""

    params: BoneParameters
    agents: Sequence[BoneAgent] = ()
    kinetics: Mapping[str, AgentKinetics] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for a in self.agents:
            if a.drug not in self.kinetics:
                raise ValueError(f"no kinetics given for bone agent {a.drug!r}")
        if "denosumab" in self.kinetics and self.kinetics["denosumab"].emax > 1:
            raise ValueError("denosumab Emax is a blocked fraction of RANKL: must be at most 1")

    # -- the right-hand side -------------------------------------------------------------------
    def signals(self, c, b, z, tumour):
        """(PTHrP signal s, TGF-beta G, resorbing y1, forming y2) for states (arrays broadcast)."""
        p = self.params
        c_bar, b_bar = p.steady_state()
        y1 = np.maximum(c - c_bar, 0.0)
        y2 = np.maximum(b - b_bar, 0.0)
        g = p.tgf_release * p.k1 * y1 * np.clip(z, 0.0, None) / 100.0
        x = np.asarray(tumour, dtype=float) / p.capacity_t
        size = p.signal_scale * x / (1.0 + (p.signal_scale - 1.0) * x)
        s = p.pthrp * size * (1.0 + p.tgf_pthrp * g)
        return s, g, y1, y2

    def _drug(self, t: float) -> tuple[float, float]:
        block, death = self.params.rankl_block, self.params.osteoclast_death_gain  # constant (averaged) effects
        for a in self.agents:
            e = float(a.effect(t, self.kinetics[a.drug])[0])
            if a.drug == "denosumab":
                block = 1.0 - (1.0 - block) * (1.0 - e)
            else:
                death += e
        return block, death

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """d/dt of (C, B, z, ln T); ln T is carried so a one-cell tumour integrates stably."""
        p = self.params
        c, b, z, w = max(y[0], 1e-300), max(y[1], 1e-300), y[2], y[3]
        tum = math.exp(w) if p.has_tumour else 0.0
        s, g, y1, y2 = self.signals(c, b, z, tum)
        s, g = float(s), float(g)
        g11, g21, g12, g22 = p._exponents(s)
        on = t >= p.treatment_day
        v1, v2 = (p.v1, p.v2) if on else (0.0, 0.0)
        block, death = self._drug(t)
        dc = p.alpha1 * (1.0 - block) * (1.0 + p.rankl_gain * s) * c ** g11 * b ** g21 - p.beta1 * (1.0 + death) * c
        db = p.alpha2 * c ** g12 * b ** g22 - (p.beta2 - v1) * b
        matrix = min(max(z, 0.0) / 100.0, 1.0) if p.matrix_limited else 1.0  # no bone left: nothing to resorb
        dz = p.k2 * float(y2) - p.k1 * float(y1) * matrix
        dw = (p.gamma_t - v2) * (1.0 + p.tgf_growth * g) * (math.log(p.capacity_t) - w) if p.has_tumour else 0.0
        return np.array([dc, db, dz, dw])

    def breakpoints(self, days: float) -> np.ndarray:
        """Days where the right-hand side jumps (doses, the published treatment onset)."""
        pts = [a.dose_days(days) for a in self.agents]
        if 0 < self.params.treatment_day < days:
            pts.append(np.array([self.params.treatment_day]))
        allp = np.concatenate(pts) if pts else np.empty(0)
        return np.unique(allp[(allp > 0) & (allp < days)])

    def solve(self, days: float, t_eval: np.ndarray | None = None, rtol: float = 1e-8,
              atol: float = 1e-10) -> BoneCourse:
        """Integrate from day 0 to ``days``; ``t_eval`` defaults to one point per day."""
        if not (math.isfinite(days) and days > 0):
            raise ValueError(f"days = {days!r}: must be a positive number of days")
        p = self.params
        t_eval = np.linspace(0.0, days, int(days) + 1) if t_eval is None else np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or not t_eval.size or np.any(np.diff(t_eval) < 0) or t_eval[0] < 0 or t_eval[-1] > days:
            raise ValueError(f"t_eval must be non-decreasing days within [0, {days:g}]")
        edges = np.r_[0.0, self.breakpoints(days), days]
        y = np.array([p.c0, p.b0, p.z0, math.log(p.t0) if p.has_tumour else 0.0])
        out = np.empty((4, len(t_eval)))
        for lo, hi in zip(edges[:-1], edges[1:]):
            last = hi == edges[-1]
            sel = (t_eval >= lo) & ((t_eval <= hi) if last else (t_eval < hi))
            ask = t_eval[sel]
            with_end = not ask.size or ask[-1] < hi  # also read the state at the segment's end
            with np.errstate(all="ignore"):  # a diverging course is reported below, as one error
                sol = solve_ivp(self.rhs, (lo, hi), y, method="LSODA", t_eval=np.r_[ask, hi] if with_end else ask,
                                rtol=rtol, atol=atol)
            if not sol.success:
                raise BoneModelError(f"the bone model cannot be integrated on days {lo:g}-{hi:g}: {sol.message}")
            if not np.all(np.isfinite(sol.y)):
                bad = int(np.argmax(~np.all(np.isfinite(sol.y), axis=0)))
                day = float(sol.t[bad])
                raise BoneModelError(f"the bone model diverges by day {day:.4g}: osteoclast or osteoblast "
                                     "production outgrows its removal (no finite bone course)")
            out[:, sel] = sol.y[:, :-1] if with_end else sol.y
            y = sol.y[:, -1]
        tum = np.exp(out[3]) if p.has_tumour else np.zeros(len(t_eval))
        s, g, _, _ = self.signals(out[0], out[1], out[2], tum)
        drug = np.array([self._drug(float(t)) for t in t_eval]) if self.agents else np.zeros((len(t_eval), 2))
        return BoneCourse(t=t_eval, osteoclasts=out[0], osteoblasts=out[1], bone_mass=out[2], tumour=tum,
                          pthrp_signal=np.asarray(s, dtype=float), tgf_beta=np.asarray(g, dtype=float),
                          rankl_block=drug[:, 0], osteoclast_death_gain=drug[:, 1])


METASTATIC_AGENTS = ("none",) + DRUGS
TABLE_POINTS = 4001
"""Points of a tabulated lesion course (reference days 0 .. :data:`TABLE_DAYS`)."""
TABLE_DAYS = 20000.0
"""Reference days a lesion course is tabulated over (a colony at the reference rate nears its
plateau by then; beyond it the clock extrapolates the last slope)."""


def metastatic_schedule(p: ParameterSet, drug: str, start_day: float = 0.0) -> BoneAgent:
    """The metastatic-phase schedule of a bone agent (``bone.metastatic.<drug>_*``)."""
    return BoneAgent(drug, p[f"bone.metastatic.{drug}_mg"], p[f"bone.metastatic.{drug}_interval_days"], start_day)


@dataclass(frozen=True)
class LesionTable:
    """A bone lesion's course from one cell at the reference rate (one clone's PTHrP, one agent
    given throughout at its averaged effect): reference days, the Gompertz age its size
    corresponds to (the vicious cycle makes it run ahead), ln cells and local bone mass (%)."""

    theta: np.ndarray
    age: np.ndarray
    log_cells: np.ndarray
    bone_mass: np.ndarray

    def warp(self) -> tuple[np.ndarray, np.ndarray]:
        return self.theta, self.age

    def speed(self, cells) -> np.ndarray:
        """d(Gompertz age)/d(reference day) at a size: 1 + the TGF-beta gain there."""
        slope = np.gradient(self.age, self.theta)
        return np.interp(np.log(np.maximum(cells, 1.0)), self.log_cells, slope)

    def mass_at(self, cells) -> np.ndarray:
        """Local bone mass (%) when the lesion reaches ``cells`` (its bone loss follows its size)."""
        return np.interp(np.log(np.maximum(cells, 1.0)), self.log_cells, self.bone_mass)

    def cells_at_mass(self, mass) -> np.ndarray:
        """Size at which bone mass first falls to ``mass`` (inf if it never does)."""
        z = np.minimum.accumulate(self.bone_mass)  # non-increasing envelope
        m = np.asarray(mass, dtype=float)
        below = z[-1] > m
        # interp needs increasing x: reverse the (non-increasing) mass
        lc = np.interp(m, z[::-1], self.log_cells[::-1])
        return np.where(below, np.inf, np.exp(lc))


def lesion_table(p: ParameterSet, pthrp: float, drug: str = "none") -> LesionTable:
    """Solve seedsoil's bone model for one bone lesion from one cell (reference rate), with
    ``drug`` ("none", "denosumab", "zoledronic_acid") at its metastatic schedule's mean effect."""
    if drug not in METASTATIC_AGENTS:
        raise ValueError(f"unknown bone agent {drug!r}: allowed are {', '.join(METASTATIC_AGENTS)}")
    bp = BoneParameters.from_params(p, pthrp=pthrp)
    if drug != "none":
        e = metastatic_schedule(p, drug).steady_effect(agent_kinetics(p)[drug])
        bp = bp.with_(**({"rankl_block": e} if drug == "denosumab" else {"osteoclast_death_gain": e}))
    theta = np.linspace(0.0, TABLE_DAYS, TABLE_POINTS)
    course = BoneModel(bp).solve(TABLE_DAYS, t_eval=theta, rtol=1e-7, atol=1e-9)
    capacity = p["growth.carrying_capacity_cells"]
    cells = np.minimum(course.tumour / CAPACITY_UNITS * capacity, capacity * (1.0 - 1e-12))
    age = np.maximum.accumulate(Gompertz(rate=bp.gamma_t, capacity=capacity).time_to(cells))  # plain days to that size
    return LesionTable(theta=theta, age=age, log_cells=np.log(cells), bone_mass=np.clip(course.bone_mass, 0.0, 100.0))
