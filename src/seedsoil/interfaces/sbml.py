"""Export the bone model (:mod:`seedsoil.biology.bone`) as SBML Level 3 Version 2.

The document carries the chosen parameters and reproduces :meth:`BoneModel.rhs` term for term,
so any SBML simulator (libroadrunner, COPASI, tellurium) gives the course
:meth:`BoneModel.solve` gives:

* species ``osteoclasts`` (C), ``osteoblasts`` (B), ``bone_mass`` (z, % of normal) and, for a
  tumour model, ``tumour`` (T, in units of its capacity ``capacity_t``), each with a rate rule
  (the Python model integrates ln T; the SBML one T itself, ``dT/dt = T d(ln T)/dt``);
* every field of :class:`BoneParameters` as a constant parameter with its value (the flag
  ``matrix_limited`` as 1 or 0), and the reference steady state ``C_bar``, ``B_bar`` as
  parameters whose initial assignments are the closed form, so editing a parameter keeps them
  consistent;
* assignment rules for what the right-hand side computes on the way: ``y1``/``y2`` (the
  ``max(C - C_bar, 0)`` terms, as piecewise), the TGF-beta signal, the PTHrP signal, the bent
  exponents, the matrix limit, Ayati's treatment switch ``treatment_on`` (piecewise in time at
  ``treatment_day``);
* for each bone agent a species ``<drug>_amount`` (mg in the body) with first-order elimination,
  one event per dose (with ``days``: every dose given before it; without: one recurring event
  that advances ``<drug>_next_dose``), its Emax effect as an assignment rule, and the combined
  ``total_rankl_block`` / ``total_osteoclast_death_gain`` the cell equations use.

The document is checked with libsbml's consistency checks before it is written
(:class:`SBMLExportError` if any error is found); the file is written atomically, so an existing
file is replaced only by a complete, valid document.

Python: ``export_sbml(BoneModel(params), "bone.xml", days=1200)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import MISSING, fields
from pathlib import Path

from seedsoil.biology.bone import BoneAgent, BoneModel, BoneParameters
from seedsoil.interfaces.store import atomic_write

SBML_LEVEL = 3
SBML_VERSION = 2
COMPARTMENT = "bone_site"
SPECIES = {"osteoclasts": "C", "osteoblasts": "B", "bone_mass": "z", "tumour": "T"}
"""Species ids of the four states -> the symbol the papers use."""
SPECIES_NAMES = {"osteoclasts": "osteoclasts (C)", "osteoblasts": "osteoblasts (B)",
                 "bone_mass": "bone mass (z, % of normal)", "tumour": "tumour (T, units of capacity_t)"}
EQUATION_FIELDS = frozenset({
    "alpha1", "alpha2", "beta1", "beta2", "g11", "g21", "g12", "g22", "k1", "k2", "gamma_t", "capacity_t",
    "r11", "r21", "r12", "r22", "v1", "v2", "treatment_day", "c0", "b0", "z0", "t0", "pthrp", "signal_scale",
    "rankl_gain", "tgf_release", "tgf_growth", "tgf_pthrp", "reference_signal", "matrix_limited", "rankl_block",
    "osteoclast_death_gain",
})
"""The :class:`BoneParameters` fields whose place in the equations this exporter knows."""
MAX_REPORTED = 5


class SBMLExportError(ValueError):
    """The bone model could not be written as a valid SBML document."""


def _libsbml():
    try:
        import libsbml
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise SBMLExportError("SBML export needs python-libsbml (pip install python-libsbml)") from err
    return libsbml


def _check(rc: int, what: str) -> None:
    lib = _libsbml()
    if rc != lib.LIBSBML_OPERATION_SUCCESS:
        raise SBMLExportError(f"SBML export: cannot set {what}: {lib.OperationReturnValue_toString(rc)}")


def _math(formula: str, where: str):
    lib = _libsbml()
    ast = lib.parseL3Formula(formula)
    if ast is None:
        raise SBMLExportError(f"SBML export: cannot parse the formula of {where}: {formula!r} "
                              f"({lib.getLastParseL3Error()})")
    return ast


def _agent_ids(agents: Iterable[BoneAgent]) -> list[str]:
    """``denosumab``, ``zoledronic_acid``; a second agent of the same drug is ``denosumab_2``."""
    seen: dict[str, int] = {}
    out = []
    for a in agents:
        seen[a.drug] = seen.get(a.drug, 0) + 1
        out.append(a.drug if seen[a.drug] == 1 else f"{a.drug}_{seen[a.drug]}")
    return out


def _field_value(p: BoneParameters, name: str) -> float:
    v = getattr(p, name)
    return 1.0 if v is True else 0.0 if v is False else float(v)


def _unknown_fields(p: BoneParameters) -> list[str]:
    """Fields the exporter does not know that differ from their default (they would change the
    equations in a way the document does not reproduce)."""
    bad = []
    for f in fields(p):
        if f.name in EQUATION_FIELDS:
            continue
        default = f.default if f.default is not MISSING else None
        if getattr(p, f.name) != default:
            bad.append(f"{f.name} = {getattr(p, f.name)!r}")
    return bad


class _Builder:
    def __init__(self, model: BoneModel, days: float | None):
        lib = _libsbml()
        self.bone = model
        self.p = model.params
        self.days = days
        self.doc = lib.SBMLDocument(SBML_LEVEL, SBML_VERSION)
        self.m = self.doc.createModel()
        _check(self.m.setId("seedsoil_bone" if not self.p.has_tumour else "seedsoil_bone_tumour"), "model id")
        _check(self.m.setName("seedsoil bone remodelling model (Komarova 2003, Ayati 2010, seedsoil vicious cycle)"),
               "model name")

    # -- small helpers ---------------------------------------------------------------------
    def parameter(self, pid: str, value: float | None, *, constant: bool = True, units: str | None = None,
                  name: str | None = None) -> None:
        q = self.m.createParameter()
        _check(q.setId(pid), f"parameter id {pid}")
        _check(q.setConstant(constant), f"parameter {pid} constant")
        if value is not None:
            _check(q.setValue(float(value)), f"parameter {pid} = {value!r}")
        if units:
            _check(q.setUnits(units), f"parameter {pid} units")
        if name:
            _check(q.setName(name), f"parameter {pid} name")

    def species(self, sid: str, initial: float, name: str, units: str | None = None) -> None:
        s = self.m.createSpecies()
        _check(s.setId(sid), f"species id {sid}")
        _check(s.setName(name), f"species {sid} name")
        _check(s.setCompartment(COMPARTMENT), f"species {sid} compartment")
        _check(s.setInitialAmount(float(initial)), f"species {sid} initial amount {initial!r}")
        _check(s.setHasOnlySubstanceUnits(True), f"species {sid} hasOnlySubstanceUnits")
        _check(s.setBoundaryCondition(False), f"species {sid} boundaryCondition")
        _check(s.setConstant(False), f"species {sid} constant")
        if units:
            _check(s.setSubstanceUnits(units), f"species {sid} units")

    def assign(self, variable: str, formula: str) -> None:
        r = self.m.createAssignmentRule()
        _check(r.setVariable(variable), f"assignment rule variable {variable}")
        _check(r.setMath(_math(formula, f"the assignment rule of {variable}")), f"assignment rule of {variable}")

    def rate(self, variable: str, formula: str) -> None:
        r = self.m.createRateRule()
        _check(r.setVariable(variable), f"rate rule variable {variable}")
        _check(r.setMath(_math(formula, f"the rate rule of {variable}")), f"rate rule of {variable}")

    def initial(self, symbol: str, formula: str) -> None:
        ia = self.m.createInitialAssignment()
        _check(ia.setSymbol(symbol), f"initial assignment symbol {symbol}")
        _check(ia.setMath(_math(formula, f"the initial assignment of {symbol}")), f"initial assignment of {symbol}")

    def event(self, eid: str, trigger: str, assignments: dict[str, str]) -> None:
        e = self.m.createEvent()
        _check(e.setId(eid), f"event id {eid}")
        _check(e.setUseValuesFromTriggerTime(True), f"event {eid} useValuesFromTriggerTime")
        t = e.createTrigger()
        _check(t.setInitialValue(False), f"event {eid} trigger initialValue")  # a dose at day 0 fires at day 0
        _check(t.setPersistent(True), f"event {eid} trigger persistent")
        _check(t.setMath(_math(trigger, f"the trigger of event {eid}")), f"trigger of event {eid}")
        for var, formula in assignments.items():
            a = e.createEventAssignment()
            _check(a.setVariable(var), f"event {eid} assignment variable {var}")
            _check(a.setMath(_math(formula, f"event {eid} assignment to {var}")), f"event {eid} assignment to {var}")

    def units(self) -> None:
        lib = _libsbml()
        for uid, kind, multiplier, exponent in (("day", lib.UNIT_KIND_SECOND, 86400.0, 1),
                                                ("per_day", lib.UNIT_KIND_SECOND, 86400.0, -1),
                                                ("mg", lib.UNIT_KIND_GRAM, 1.0, 1)):
            ud = self.m.createUnitDefinition()
            _check(ud.setId(uid), f"unit {uid}")
            u = ud.createUnit()
            _check(u.setKind(kind), f"unit {uid} kind")
            _check(u.setExponent(exponent), f"unit {uid} exponent")
            _check(u.setScale(-3 if uid == "mg" else 0), f"unit {uid} scale")
            _check(u.setMultiplier(multiplier), f"unit {uid} multiplier")
        _check(self.m.setTimeUnits("day"), "model time units")

    # -- the model ---------------------------------------------------------------------------
    def build(self):
        p, tumour = self.p, self.p.has_tumour
        bad = _unknown_fields(p)
        if bad:
            raise SBMLExportError(f"SBML export does not know how bone parameter(s) {', '.join(bad)} enter the "
                                  "equations; update seedsoil.interfaces.sbml")
        self.units()
        c = self.m.createCompartment()
        _check(c.setId(COMPARTMENT), "compartment id")
        _check(c.setName("one remodelling site"), "compartment name")
        _check(c.setSize(1.0), "compartment size")
        _check(c.setSpatialDimensions(3), "compartment dimensions")
        _check(c.setConstant(True), "compartment constant")

        for f in fields(p):
            self.parameter(f.name, _field_value(p, f.name))
        c_bar, b_bar = p.steady_state()
        self.parameter("C_bar", c_bar, name="reference osteoclast steady state (above it: resorption)")
        self.parameter("B_bar", b_bar, name="reference osteoblast steady state (above it: formation)")
        # closed form, as BoneParameters.steady_state(None): the exponents at the reference signal
        s_ref = "piecewise(reference_signal, t0 > 0, 0)"
        e11, e21 = f"(g11 * (1 + r11 * {s_ref}))", f"(g21 * (1 + r21 * {s_ref}))"
        e12, e22 = f"(g12 / (1 + r12 * {s_ref}))", f"(g22 - r22 * {s_ref})"
        gam = f"({e12} * {e21} - (1 - {e11}) * (1 - {e22}))"
        self.initial("C_bar", f"(beta1 / alpha1)^((1 - {e22}) / {gam}) * (beta2 / alpha2)^({e21} / {gam})")
        self.initial("B_bar", f"(beta1 / alpha1)^({e12} / {gam}) * (beta2 / alpha2)^((1 - {e11}) / {gam})")

        self.species("osteoclasts", p.c0, SPECIES_NAMES["osteoclasts"])
        self.species("osteoblasts", p.b0, SPECIES_NAMES["osteoblasts"])
        self.species("bone_mass", p.z0, SPECIES_NAMES["bone_mass"])
        self.initial("osteoclasts", "c0")
        self.initial("osteoblasts", "b0")
        self.initial("bone_mass", "z0")
        if tumour:
            self.species("tumour", p.t0, SPECIES_NAMES["tumour"])
            self.initial("tumour", "t0")

        derived = ("y1", "y2", "z_pos", "tgf_beta", "tumour_size", "pthrp_signal", "g11_eff", "g21_eff",
                   "g12_eff", "g22_eff", "treatment_on", "matrix", "total_rankl_block", "total_osteoclast_death_gain")
        for pid in derived:
            self.parameter(pid, None, constant=False)
        self.assign("y1", "piecewise(osteoclasts - C_bar, osteoclasts > C_bar, 0)")
        self.assign("y2", "piecewise(osteoblasts - B_bar, osteoblasts > B_bar, 0)")
        self.assign("z_pos", "piecewise(bone_mass, bone_mass > 0, 0)")
        self.assign("tgf_beta", "tgf_release * k1 * y1 * z_pos / 100")
        if tumour:
            self.assign("tumour_size", "signal_scale * (tumour / capacity_t) / "
                                       "(1 + (signal_scale - 1) * (tumour / capacity_t))")
        else:
            self.assign("tumour_size", "0")
        self.assign("pthrp_signal", "pthrp * tumour_size * (1 + tgf_pthrp * tgf_beta)")
        self.assign("g11_eff", "g11 * (1 + r11 * pthrp_signal)")
        self.assign("g21_eff", "g21 * (1 + r21 * pthrp_signal)")
        self.assign("g12_eff", "g12 / (1 + r12 * pthrp_signal)")
        self.assign("g22_eff", "g22 - r22 * pthrp_signal")
        self.assign("treatment_on", "piecewise(1, time >= treatment_day, 0)")
        self.assign("matrix", "piecewise(piecewise(z_pos / 100, z_pos < 100, 1), matrix_limited > 0.5, 1)")

        blocks, deaths = self.agents()
        block = "1 - (1 - rankl_block)" + "".join(f" * (1 - {e})" for e in blocks)
        self.assign("total_rankl_block", block)
        self.assign("total_osteoclast_death_gain", " + ".join(["osteoclast_death_gain", *deaths]))

        self.rate("osteoclasts", "alpha1 * (1 - total_rankl_block) * (1 + rankl_gain * pthrp_signal)"
                                 " * osteoclasts^g11_eff * osteoblasts^g21_eff"
                                 " - beta1 * (1 + total_osteoclast_death_gain) * osteoclasts")
        self.rate("osteoblasts", "alpha2 * osteoclasts^g12_eff * osteoblasts^g22_eff"
                                 " - (beta2 - v1 * treatment_on) * osteoblasts")
        self.rate("bone_mass", "k2 * y2 - k1 * y1 * matrix")
        if tumour:
            self.rate("tumour", "(gamma_t - v2 * treatment_on) * (1 + tgf_growth * tgf_beta)"
                                " * (ln(capacity_t) - ln(tumour)) * tumour")
        return self.doc

    def agents(self) -> tuple[list[str], list[str]]:
        """Species, elimination, dose events and Emax effect of every agent; returns the effect
        ids acting on RANKL (denosumab) and on osteoclast death (bisphosphonates)."""
        blocks, deaths = [], []
        for agent, aid in zip(self.bone.agents, _agent_ids(self.bone.agents)):
            kin = self.bone.kinetics[agent.drug]
            amount, effect = f"{aid}_amount", f"{aid}_effect"
            for suffix, value in (("dose_mg", agent.dose_mg), ("interval_days", agent.interval_days),
                                  ("start_day", agent.start_day), ("stop_day", agent.stop_day),
                                  ("half_life_days", kin.half_life_days), ("ec50_mg", kin.ec50_mg),
                                  ("emax", kin.emax)):
                self.parameter(f"{aid}_{suffix}", value)
            self.species(amount, 0.0, f"{agent.drug} in the body (mg)")
            self.rate(amount, f"-ln(2) / {aid}_half_life_days * {amount}")
            self.parameter(effect, None, constant=False)
            self.assign(effect, f"{aid}_emax * {amount} / ({amount} + {aid}_ec50_mg)")
            if self.days is not None or math.isfinite(agent.stop_day):
                horizon = math.inf if self.days is None else float(self.days)
                for i in range(len(agent.dose_days(horizon))):
                    self.event(f"{aid}_dose_{i + 1}", f"time >= {aid}_start_day + {i} * {aid}_interval_days",
                               {amount: f"{amount} + {aid}_dose_mg"})
            else:  # open-ended schedule: one event that fires at every dose and moves to the next
                nxt = f"{aid}_next_dose"
                self.parameter(nxt, agent.start_day, constant=False)
                self.event(f"{aid}_dose", f"time >= {nxt} && {nxt} < {aid}_stop_day",
                           {amount: f"{amount} + {aid}_dose_mg", nxt: f"{nxt} + {aid}_interval_days"})
            (blocks if agent.drug == "denosumab" else deaths).append(effect)
        return blocks, deaths


def sbml_document(model: BoneModel, days: float | None = None):
    """The validated :class:`libsbml.SBMLDocument` of ``model`` (see the module docstring)."""
    if days is not None and not (math.isfinite(days) and days > 0):
        raise SBMLExportError(f"days = {days!r}: must be a positive number of days")
    doc = _Builder(model, days).build()
    lib = _libsbml()
    doc.checkConsistency()
    problems = [doc.getError(i) for i in range(doc.getNumErrors())
                if doc.getError(i).getSeverity() >= lib.LIBSBML_SEV_ERROR]
    if problems:
        listed = "; ".join(f"{e.getErrorId()}: {' '.join(e.getMessage().split())}" for e in problems[:MAX_REPORTED])
        more = f" (+{len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise SBMLExportError(f"SBML export: the document fails libsbml's consistency checks: {listed}{more}")
    return doc


def sbml_string(model: BoneModel, days: float | None = None) -> str:
    """The SBML text of ``model`` (validated)."""
    return _libsbml().writeSBMLToString(sbml_document(model, days))


def export_sbml(model: BoneModel, path: str | os.PathLike, days: float | None = None) -> Path:
    """Write ``model`` with its parameters and agents as SBML Level 3 to ``path``.

    ``days`` is the horizon the dose events are listed up to (every dose given before it); without
    it an open-ended schedule becomes one recurring dose event. The document is validated with
    libsbml first (:class:`SBMLExportError` on any error) and written atomically: an existing file
    is replaced only once the new one is complete. Returns the path written.
    """
    text = sbml_string(model, days)
    path = Path(path)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path
