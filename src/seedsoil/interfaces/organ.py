"""``seedsoil organ``: one organ as soil.

* **bone**: the bone remodelling model (:mod:`seedsoil.biology.bone`) with a published parameter
  set (Komarova 2003, Ayati 2010) or seedsoil's own (the scenario's parameters: a lesion from one
  cell with the explicit PTHrP/RANKL/TGF-beta loop), optionally with bone-targeted agents on a
  schedule: the course as a table (``bone_course.csv`` or ``.parquet``), a figure (``bone.png``)
  and, on request, the model as SBML (:mod:`seedsoil.interfaces.sbml`).
* **every other organ** of :data:`seedsoil.biology.organs.ORGANS`: its soil row and a figure
  (``<organ>.png``) of what the cascade makes of it for each subtype's default traits (share of
  arrested units, extravasation probability, colonisation odds) against the mean over organs;
  for the brain also how HER2, the BBB-crossing programme, brain metabolism and the neuregulin
  response each change crossing and survival.

Pure computation and figures (no printing except in the ``print_*`` helpers, which take a rich
console); files are written atomically, and only after everything has been computed, so a failed
command leaves what was already there untouched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seedsoil.biology import cascade
from seedsoil.biology.bone import (
    CAPACITY_UNITS,
    DRUGS,
    BoneAgent,
    BoneCourse,
    BoneModel,
    BoneParameters,
    agent_kinetics,
)
from seedsoil.biology.organs import FAILURE_MODES, ORGANS, SYMPTOMS, OrganTable
from seedsoil.biology.traits import Traits, subtype_traits
from seedsoil.params import ParameterSet
from seedsoil.params.bone_sets import bone_model_values
from seedsoil.interfaces.plots import DPI, PNG_METADATA
from seedsoil.interfaces.store import atomic_write
from seedsoil.scenario import SUBTYPES

BONE_MODELS = ("seedsoil", "komarova2003", "ayati2010")
DEFAULT_BONE_MODEL = "seedsoil"
DEFAULT_DAYS = {"komarova2003": 400.0, "ayati2010": 1200.0, "seedsoil": 3000.0}
"""Days simulated when ``--days`` is not given: one remodelling cycle (Komarova), Ayati's
figure through the treatment at day 600, a lesion from one cell to several hundred million."""
FORMATS = ("csv", "parquet")
COURSE_FILE = "bone_course"
BONE_FIGURE = "bone.png"
SOIL_FIELDS = ("blood_flow_share", "cxcl12", "extravasation_ease", "soil_fit", "growth_fold", "detection_mm",
               "tolerated_burden_cells")
SOIL_UNITS = {"blood_flow_share": "share", "cxcl12": "0-1", "extravasation_ease": "probability",
              "soil_fit": "fold", "growth_fold": "fold", "detection_mm": "mm", "tolerated_burden_cells": "cells"}
SRE_THRESHOLDS = {"radiotherapy": "bone.sre.radiotherapy_mass", "fracture": "bone.sre.fracture_mass",
                  "cord compression": "bone.sre.cord_compression_mass"}
"""Skeletal-related events -> the registry's local bone mass (%) below which each occurs."""
BRAIN_TRAITS = ("her2", "bbb_crossing", "brain_metabolism", "nrg_response")
BRAIN_TRAIT_LABELS = {"her2": "HER2", "bbb_crossing": "BBB\nprogramme", "brain_metabolism": "brain\nmetabolism",
                      "nrg_response": "neuregulin\nresponse"}
UNIT_LABELS = ("single cells", "clusters")


class OrganError(ValueError):
    """A request the organ command cannot run (bad model, schedule, organ or option)."""


# -- bone ------------------------------------------------------------------------------------------
def parse_schedule(drug: str, text: str) -> BoneAgent:
    """``DOSE_MG,INTERVAL_DAYS[,START[,STOP]]`` (days from the start of the course) -> a
    :class:`BoneAgent`; a clear :class:`OrganError` for anything else."""
    option = f"--{drug.replace('_', '-')}"
    if drug not in DRUGS:
        raise OrganError(f"unknown bone agent {drug!r}: choose one of {', '.join(DRUGS)}")
    parts = [s.strip() for s in str(text).split(",")]
    if not 2 <= len(parts) <= 4 or any(not s for s in parts):
        raise OrganError(f"{option} {text!r}: write DOSE_MG,INTERVAL_DAYS[,START_DAY[,STOP_DAY]], "
                         "e.g. 120,28 or 120,28,0,720")
    values = []
    for name, s in zip(("dose_mg", "interval_days", "start_day", "stop_day"), parts):
        try:
            v = float(s)
        except ValueError:
            raise OrganError(f"{option} {text!r}: {name} {s!r} is not a number") from None
        if math.isnan(v):
            raise OrganError(f"{option} {text!r}: {name} {s!r} is not a number")
        values.append(v)
    try:
        return BoneAgent(drug, *values)
    except ValueError as err:
        raise OrganError(f"{option} {text!r}: {err}") from None


def parse_agent(text: str) -> BoneAgent:
    """``DRUG=DOSE_MG,INTERVAL_DAYS[,START[,STOP]]`` (``--agent``) -> a :class:`BoneAgent`."""
    drug, sep, schedule = str(text).partition("=")
    drug = drug.strip().replace("-", "_")
    if not sep:
        raise OrganError(f"--agent {text!r}: write DRUG=DOSE_MG,INTERVAL_DAYS[,START_DAY[,STOP_DAY]] "
                         f"with DRUG one of {', '.join(DRUGS)}")
    if drug not in DRUGS:
        raise OrganError(f"--agent {text!r}: unknown bone agent {drug!r}: choose one of {', '.join(DRUGS)}")
    return parse_schedule(drug, schedule)


def cohort_pthrp(shares: Mapping[str, float], registry: ParameterSet) -> float:
    """The cohort's mean PTHrP trait: the subtypes' defaults weighted by their shares."""
    total = sum(shares.values())
    return float(sum(shares[s] * registry[f"trait.{s}.pthrp"] for s in SUBTYPES) / total)


def bone_parameters(model: str, registry: ParameterSet, pthrp: float | None = None) -> BoneParameters:
    """The parameter set of ``model``: a published one (``pthrp`` scales Ayati's tumour signal) or
    seedsoil's lesion from one cell at the reference growth rate (``pthrp`` its trait)."""
    if model not in BONE_MODELS:
        raise OrganError(f"unknown bone model {model!r}: choose one of {', '.join(BONE_MODELS)}")
    if pthrp is not None and not (math.isfinite(pthrp) and 0.0 <= pthrp <= 1.0):
        raise OrganError(f"--pthrp {pthrp!r}: the PTHrP trait must be between 0 and 1")
    if model == "seedsoil":
        return BoneParameters.from_params(registry, pthrp=1.0 if pthrp is None else pthrp)
    params = BoneParameters.from_values(bone_model_values(model))
    if pthrp is not None:
        if not params.has_tumour:
            raise OrganError(f"--pthrp: the {model} model has no tumour; use --model ayati2010 or seedsoil")
        params = params.with_(pthrp=pthrp)
    return params


@dataclass(frozen=True)
class BoneRun:
    """One solved bone course with what it was solved from."""

    model_name: str
    model: BoneModel
    course: BoneCourse
    days: float
    capacity_cells: float
    thresholds: dict[str, float] = field(default_factory=dict)
    """Skeletal-event bone masses (%) for seedsoil's model; empty for the published ones."""

    @property
    def params(self) -> BoneParameters:
        return self.model.params

    def table(self) -> pd.DataFrame:
        """``day`` and every column of :meth:`BoneCourse.columns`."""
        return pd.DataFrame(self.course.columns())

    def tumour_cells(self) -> np.ndarray:
        """seedsoil's tumour in cells (T is a share of the carrying capacity, x 100)."""
        return self.course.tumour / CAPACITY_UNITS * self.capacity_cells

    def summary(self) -> dict[str, object]:
        c = self.course
        low = int(np.argmin(c.bone_mass))
        c_bar, b_bar = self.params.steady_state()
        out: dict[str, object] = {
            "model": self.model_name, "days": self.days, "steady_osteoclasts": c_bar, "steady_osteoblasts": b_bar,
            "min_bone_mass": float(c.bone_mass[low]), "min_bone_mass_day": float(c.t[low]),
            "end_bone_mass": float(c.bone_mass[-1]),
            "tumour_end": float(c.tumour[-1]) if self.params.has_tumour else None,
            "tumour_end_cells": float(self.tumour_cells()[-1]) if self.model_name == "seedsoil" else None,
        }
        for event, mass in self.thresholds.items():
            below = np.nonzero(c.bone_mass < mass)[0]
            out[f"day_below_{event}"] = float(c.t[below[0]]) if below.size else None
        return out


def run_bone(model: str, registry: ParameterSet, days: float | None = None, pthrp: float | None = None,
             agents: Sequence[BoneAgent] = ()) -> BoneRun:
    """Solve ``model`` for ``days`` (default :data:`DEFAULT_DAYS`) with ``agents``."""
    params = bone_parameters(model, registry, pthrp)
    days = DEFAULT_DAYS[model] if days is None else days
    if not (math.isfinite(days) and days > 0):
        raise OrganError(f"--days {days!r}: must be a positive number of days")
    bone = BoneModel(params, tuple(agents), agent_kinetics(registry) if agents else {})
    course = bone.solve(days, t_eval=np.linspace(0.0, days, max(int(math.ceil(days)), 1) + 1))
    thresholds = {k: registry[v] for k, v in SRE_THRESHOLDS.items()} if model == "seedsoil" else {}
    return BoneRun(model, bone, course, float(days), registry["growth.carrying_capacity_cells"], thresholds)


def bone_figure(run: BoneRun) -> Figure:
    """Stacked panels over days: osteoclasts and osteoblasts, bone mass (with the skeletal-event
    thresholds of seedsoil's model), tumour (log axis), PTHrP and TGF-beta signals, and the
    agents' effects when any are given."""
    c, p = run.course, run.params
    agents = bool(run.model.agents)
    rows = 5 if agents else 4
    fig = Figure(figsize=(8.0, 2.15 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True)
    title = {"seedsoil": f"seedsoil bone lesion (PTHrP {p.pthrp:g}, growth {p.gamma_t:g}/day)",
             "komarova2003": "Komarova et al. 2003: single remodelling cycle",
             "ayati2010": f"Ayati et al. 2010: tumour in bone, treatment from day {p.treatment_day:g}"}[run.model_name]
    fig.suptitle(title)
    c_bar, b_bar = p.steady_state()

    ax = axes[0]
    ax.plot(c.t, c.osteoclasts, color="tab:red", label="osteoclasts (C)")
    ax.axhline(c_bar, color="tab:red", lw=0.8, ls=":")
    ax.set_ylabel("osteoclasts\n(cells, model units)", color="tab:red")
    tw = ax.twinx()
    tw.plot(c.t, c.osteoblasts, color="tab:blue", label="osteoblasts (B)")
    tw.axhline(b_bar, color="tab:blue", lw=0.8, ls=":")
    tw.set_ylabel("osteoblasts\n(cells, model units)", color="tab:blue")
    ax.set_title("bone cells (dotted: reference steady state)", fontsize="medium")

    ax = axes[1]
    ax.plot(c.t, c.bone_mass, color="black", label="bone mass")
    for (event, mass), colour in zip(run.thresholds.items(), ("tab:orange", "tab:red", "tab:purple")):
        ax.axhline(mass, color=colour, ls="--", lw=1.0, label=f"{event} ({mass:g}%)")
    ax.set_ylabel("local bone mass\n(% of normal)")
    ax.set_title("bone mass" + (" (dashed: skeletal-related event thresholds)" if run.thresholds else ""),
                 fontsize="medium")
    if run.thresholds:
        ax.legend(fontsize="small", loc="lower left")

    ax = axes[2]
    if not p.has_tumour:
        ax.text(0.5, 0.5, "no tumour in this model", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        ax.set_ylabel("tumour")
    elif run.model_name == "seedsoil":
        ax.semilogy(c.t, run.tumour_cells(), color="tab:green")
        ax.set_ylabel("tumour cells\n(log scale)")
    else:
        ax.semilogy(c.t, c.tumour, color="tab:green")
        ax.set_ylabel(f"tumour T (log scale,\ncapacity LT = {p.capacity_t:g})")
    ax.set_title("tumour in bone", fontsize="medium")

    ax = axes[3]
    ax.plot(c.t, c.pthrp_signal, color="tab:olive", label="PTHrP signal s")
    ax.set_ylabel("PTHrP signal\n(dimensionless)", color="tab:olive")
    tw = ax.twinx()
    tw.plot(c.t, c.tgf_beta, color="tab:brown", label="TGF-beta G")
    tw.set_ylabel("TGF-beta signal G\n(dimensionless)", color="tab:brown")
    ax.set_title("the vicious cycle's signals", fontsize="medium")

    if agents:
        ax = axes[4]
        ax.plot(c.t, c.rankl_block, color="tab:cyan", label="RANKL block (denosumab)")
        ax.plot(c.t, c.osteoclast_death_gain, color="tab:pink", label="osteoclast death gain (bisphosphonate)")
        ax.set_ylabel("agent effect\n(fraction / fold - 1)")
        ax.legend(fontsize="small", loc="upper left")
        ax.set_title("bone-targeted agents", fontsize="medium")
    axes[-1].set_xlabel("day")
    return fig


def write_figure(fig: Figure, path: Path) -> None:
    """Write a figure as PNG (same resolution and metadata as a run's figures), atomically."""
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=DPI, metadata=PNG_METADATA))


def save_bone(run: BoneRun, out: str | os.PathLike, fmt: str = "csv",
              sbml_path: str | os.PathLike | None = None) -> list[Path]:
    """Write ``bone_course.<fmt>``, ``bone.png`` and, with ``sbml_path``, the SBML. The SBML is
    built and validated and the figure drawn before anything is written."""
    if fmt not in FORMATS:
        raise OrganError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    text = None
    if sbml_path is not None:
        from seedsoil.interfaces.sbml import sbml_string

        text = sbml_string(run.model, run.days)
    table = run.table()
    fig = bone_figure(run)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    course = folder / f"{COURSE_FILE}.{fmt}"
    if fmt == "csv":
        atomic_write(course, lambda p: table.to_csv(p, index=False, float_format="%.10g"))
    else:
        atomic_write(course, lambda p: table.to_parquet(p, index=False))
    figure = folder / BONE_FIGURE
    write_figure(fig, figure)
    written = [course, figure]
    if text is not None:
        sbml = Path(sbml_path)
        atomic_write(sbml, lambda p: p.write_text(text, encoding="utf-8"))
        written.append(sbml)
    return written


# -- the other organs --------------------------------------------------------------------------------
def soil_table(registry: ParameterSet) -> pd.DataFrame:
    """One row per organ: the soil fields, the symptoms of a metastasis there and how it kills
    (its way of killing and its complication, with the complication's burden and harm)."""
    organs = OrganTable.from_params(registry)
    df = pd.DataFrame({f: getattr(organs, f) for f in SOIL_FIELDS}, index=pd.Index(ORGANS, name="organ"))
    df["symptoms"] = [symptoms(o) for o in ORGANS]
    df["failure_exponent"] = organs.failure_exponent
    df["kills_by"] = [kills_by(o, registry) for o in ORGANS]
    return df


def symptoms(organ: str) -> str:
    """What a metastasis in ``organ`` causes, as text (``-`` when typically silent)."""
    return ", ".join(SYMPTOMS.get(organ, ())) or "-"


def kills_by(organ: str, registry: ParameterSet) -> str:
    """How a metastasis in ``organ`` kills, as text: its way of failing and, where it has one
    with harm, its complication (``biology.organs.FAILURE_MODES``)."""
    mode, complication = FAILURE_MODES[organ]
    if complication and registry[f"organ.{organ}.complication_hazard_fold"] > 0:
        return f"{mode}; {complication}"
    return mode


def default_traits(registry: ParameterSet, subtype: str) -> Traits:
    """A subtype's default traits at its usual receptor status (ER+/HER2+ when at least half of
    the subtype is), ductal histology."""
    er = registry[f"cohort.er_positive_prob.{subtype}"] >= 0.5
    her2 = registry[f"cohort.her2_positive_prob.{subtype}"] >= 0.5
    return subtype_traits(registry, subtype, er=er, her2=her2, lobular=False)


@dataclass(frozen=True)
class OrganProfile:
    """What the cascade makes of one organ for each subtype's default traits (rows: SUBTYPES)."""

    organ: str
    soil: pd.Series
    arrest: np.ndarray            # (subtypes, 2 unit classes): share of arrested units in the organ
    arrest_mean: np.ndarray       # (subtypes, 2): mean over organs
    extravasation: np.ndarray     # (subtypes,)
    extravasation_mean: np.ndarray
    progression: np.ndarray       # (subtypes, 2): colonisation odds of a micrometastasis
    progression_mean: np.ndarray
    brain_effects: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        rows = {}
        for i, s in enumerate(SUBTYPES):
            rows[s] = {"arrest_share_single": self.arrest[i, 0], "arrest_share_cluster": self.arrest[i, 1],
                       "mean_over_organs_arrest": self.arrest_mean[i, 0],
                       "extravasation": self.extravasation[i], "mean_over_organs_extravasation":
                       self.extravasation_mean[i], "progression_single": self.progression[i, 0],
                       "progression_cluster": self.progression[i, 1],
                       "mean_over_organs_progression_single": self.progression_mean[i, 0]}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("subtype")


def brain_trait_effects(registry: ParameterSet) -> pd.DataFrame:
    """For each subtype and each of HER2, the BBB programme, brain metabolism and the neuregulin
    response: the fold change of brain crossing (extravasation) and of brain survival
    (colonisation odds, single cells) when the trait goes from 0 to 1, the others at the
    subtype's defaults."""
    organs = OrganTable.from_params(registry)
    brain = organs.index("brain")
    rows = []
    for s in SUBTYPES:
        base = default_traits(registry, s)
        for trait in BRAIN_TRAITS:
            lo, hi = base.with_(**{trait: 0.0}), base.with_(**{trait: 1.0})
            cross = [cascade.extravasation(t, organs, registry)[brain] for t in (lo, hi)]
            surv = [cascade.progression_prob(t, organs, registry)[0, brain] for t in (lo, hi)]
            rows.append({"subtype": s, "trait": trait, "default": getattr(base, trait),
                         "crossing_at_0": cross[0], "crossing_at_1": cross[1], "crossing_fold": cross[1] / cross[0],
                         "survival_at_0": surv[0], "survival_at_1": surv[1], "survival_fold": surv[1] / surv[0]})
    return pd.DataFrame(rows)


def organ_profile(organ: str, registry: ParameterSet) -> OrganProfile:
    """The soil row and the per-subtype cascade numbers of ``organ`` (any organ but bone, whose
    command is the bone model; bone's numbers are available here too)."""
    if organ not in ORGANS:
        raise OrganError(f"unknown organ {organ!r}: choose one of {', '.join(('list',) + ORGANS)}")
    organs = OrganTable.from_params(registry)
    i = organs.index(organ)
    arrest, extra, prog = [], [], []
    for s in SUBTYPES:
        t = default_traits(registry, s)
        arrest.append(cascade.arrest_distribution(t, organs, registry))
        extra.append(cascade.extravasation(t, organs, registry))
        prog.append(cascade.progression_prob(t, organs, registry))
    arrest_a, extra_a, prog_a = np.array(arrest), np.array(extra), np.array(prog)
    return OrganProfile(
        organ=organ, soil=soil_table(registry).loc[organ],
        arrest=arrest_a[:, :, i], arrest_mean=arrest_a.mean(axis=2),
        extravasation=extra_a[:, i], extravasation_mean=extra_a.mean(axis=1),
        progression=prog_a[:, :, i], progression_mean=prog_a.mean(axis=2),
        brain_effects=brain_trait_effects(registry) if organ == "brain" else None)


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def organ_figure(profile: OrganProfile) -> Figure:
    """Per subtype: the organ's share of arrested units, extravasation probability and
    colonisation odds (bars) against the mean over organs (black marks); for the brain two more
    panels with each brain trait's fold change of crossing and survival."""
    brain = profile.brain_effects is not None
    fig = Figure(figsize=(12.0, 8.2 if brain else 4.4), layout="constrained")
    grid = fig.subplots(2 if brain else 1, 3, squeeze=False)
    fig.suptitle(f"{_pretty(profile.organ)} as soil, by subtype (default traits)")
    x = np.arange(len(SUBTYPES))
    labels = [_pretty(s) for s in SUBTYPES]
    w = 0.38

    def bars(ax, values, means, ylabel, title, log=False):
        values, means = np.atleast_2d(values.T).T, np.atleast_2d(means.T).T
        k = values.shape[1]
        for j in range(k):
            off = (j - (k - 1) / 2) * w
            ax.bar(x + off, values[:, j], w * 0.95, label=f"{_pretty(profile.organ)}"
                   + (f", {UNIT_LABELS[j]}" if k > 1 else ""), color=("tab:blue", "tab:orange")[j])
            ax.scatter(x + off, means[:, j], marker="_", s=300, color="black", zorder=3,
                       label="mean over organs" if j == 0 else None)
        ax.set_xticks(x, labels, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize="medium")
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize="small")

    bars(grid[0, 0], profile.arrest, profile.arrest_mean, "share of arrested units (1)", "arrest (homing)")
    bars(grid[0, 1], profile.extravasation, profile.extravasation_mean, "probability (1)",
         "extravasation of an arrested unit")
    bars(grid[0, 2], profile.progression, profile.progression_mean, "probability (1, log scale)",
         "colonisation odds of a micrometastasis", log=True)
    if brain:
        eff = profile.brain_effects
        xt = np.arange(len(BRAIN_TRAITS))
        wt = 0.8 / len(SUBTYPES)
        for col, (what, title) in enumerate((("crossing_fold", "brain crossing (extravasation)"),
                                             ("survival_fold", "brain survival (colonisation odds)"))):
            ax = grid[1, col]
            for j, s in enumerate(SUBTYPES):
                sub = eff[eff.subtype == s].set_index("trait").loc[list(BRAIN_TRAITS)]
                ax.bar(xt + (j - (len(SUBTYPES) - 1) / 2) * wt, sub[what], wt * 0.95, label=_pretty(s))
            ax.axhline(1.0, color="black", lw=0.8, ls="--")
            ax.set_xticks(xt, [BRAIN_TRAIT_LABELS[t] for t in BRAIN_TRAITS], fontsize="small")
            ax.set_ylim(0.0, max(float(eff[what].max()) * 1.35, 2.0))
            ax.set_ylabel("fold change, trait 0 -> 1 (dashed: none)")
            ax.set_title(title, fontsize="medium")
            ax.legend(fontsize="small", title="others at subtype defaults", title_fontsize="small")
        ax = grid[1, 2]
        ax.axis("off")
        ax.text(0.0, 1.0, "HER2 and the BBB programme (COX2, HBEGF,\nST6GALNAC5; Bos et al. 2009) act on crossing\n"
                          "(extravasation.her2_bbb_fold,\nextravasation.bbb_programme_fold; crossing is\n"
                          "capped at probability 1).\n\nBrain metabolism (lactate/GABA) and the\n"
                          "neuregulin response act on survival\n(colonisation.brain_metabolism_fold,\n"
                          "colonisation.nrg_fold).",
                va="top", fontsize="small", transform=ax.transAxes)
    return fig


def save_organ(profile: OrganProfile, out: str | os.PathLike) -> Path:
    """Write ``<organ>.png`` into ``out``; the figure is drawn before anything is written."""
    fig = organ_figure(profile)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{profile.organ}.png"
    write_figure(fig, path)
    return path


# -- console output ---------------------------------------------------------------------------------
def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def print_soil(console, registry: ParameterSet, organs: Sequence[str] = ORGANS, title: str = "Organs as soil") -> None:
    from rich.table import Table
    from rich.text import Text

    soil = soil_table(registry)
    table = Table(title=title)
    table.add_column("organ", no_wrap=True)
    for f in SOIL_FIELDS:
        table.add_column(f"{f}\n({SOIL_UNITS[f]})", justify="right")
    table.add_column("symptoms")
    for o in organs:
        row = soil.loc[o]
        table.add_row(o, *[_num(float(row[f])) for f in SOIL_FIELDS], Text(row["symptoms"]))
    console.print(table)
    kills = Table(title="How a metastasis there kills (death hazard per day: mortality.burden_hazard_per_day x "
                        "(burden / tolerated)^exponent + the complication's harm)")
    kills.add_column("organ", no_wrap=True)
    kills.add_column("kills by")
    kills.add_column("exponent", justify="right")
    kills.add_column("complication\nhalf-established\n(cells)", justify="right")
    kills.add_column("complication\nharm (1/day)", justify="right")
    k = registry["mortality.burden_hazard_per_day"]
    for o in organs:
        fold = registry[f"organ.{o}.complication_hazard_fold"]
        kills.add_row(o, Text(soil.loc[o, "kills_by"]), _num(float(soil.loc[o, "failure_exponent"])),
                      _num(registry[f"organ.{o}.complication_cells"]) if fold > 0 else "-",
                      _num(k * fold) if fold > 0 else "-")
    console.print(kills)


def print_bone(console, run: BoneRun, registry: ParameterSet) -> None:
    s = run.summary()
    p = run.params
    agents = ", ".join(f"{a.drug} {a.dose_mg:g} mg every {a.interval_days:g} d from day {a.start_day:g}"
                       + (f" to {a.stop_day:g}" if math.isfinite(a.stop_day) else "") for a in run.model.agents)
    console.print(f"[bold]bone[/bold], {run.model_name} model, {run.days:g} days"
                  + (f", PTHrP {p.pthrp:g}" if p.has_tumour else "") + (f"; {agents}" if agents else ""))
    console.print(f"reference steady state: {s['steady_osteoclasts']:.4g} osteoclasts, "
                  f"{s['steady_osteoblasts']:.4g} osteoblasts")
    console.print(f"lowest bone mass {s['min_bone_mass']:.1f}% on day {s['min_bone_mass_day']:g} "
                  f"(day {run.days:g}: {s['end_bone_mass']:.1f}%)")
    if s["tumour_end_cells"] is not None:
        console.print(f"tumour on day {run.days:g}: {s['tumour_end_cells']:.3g} cells "
                      f"(T = {s['tumour_end']:.4g} of capacity {p.capacity_t:g})")
    elif s["tumour_end"] is not None:
        console.print(f"tumour on day {run.days:g}: T = {s['tumour_end']:.4g} (capacity {p.capacity_t:g})")
    for event, mass in run.thresholds.items():
        day = s[f"day_below_{event}"]
        console.print(f"bone mass below the {event} threshold ({mass:g}%): "
                      + (f"day {day:g}" if day is not None else "not reached"))
    print_soil(console, registry, ("bone",), title="bone as soil")


def print_organ(console, profile: OrganProfile, registry: ParameterSet) -> None:
    from rich.table import Table

    print_soil(console, registry, (profile.organ,), title=f"{_pretty(profile.organ)} as soil")
    table = Table(title=f"{_pretty(profile.organ)}: cascade by subtype (default traits; in brackets the mean "
                        "over organs)")
    for col in ("subtype", "arrest share, single", "arrest share, cluster", "extravasation",
                "colonisation, single", "colonisation, cluster"):
        table.add_column(col, justify="left" if col == "subtype" else "right", no_wrap=True)
    for i, s in enumerate(SUBTYPES):
        table.add_row(s, f"{profile.arrest[i, 0]:.3g} ({profile.arrest_mean[i, 0]:.3g})",
                      f"{profile.arrest[i, 1]:.3g} ({profile.arrest_mean[i, 1]:.3g})",
                      f"{profile.extravasation[i]:.3g} ({profile.extravasation_mean[i]:.3g})",
                      f"{profile.progression[i, 0]:.3g} ({profile.progression_mean[i, 0]:.3g})",
                      f"{profile.progression[i, 1]:.3g} ({profile.progression_mean[i, 1]:.3g})")
    console.print(table)
    if profile.brain_effects is not None:
        eff = Table(title="brain: fold change when one trait goes from 0 to 1 (others at subtype defaults)")
        for col in ("trait", *SUBTYPES):
            eff.add_column(col, justify="left" if col == "trait" else "right", no_wrap=True)
        df = profile.brain_effects
        for trait in BRAIN_TRAITS:
            cells = []
            for s in SUBTYPES:
                r = df[(df.subtype == s) & (df.trait == trait)].iloc[0]
                cells.append(f"crossing x{r.crossing_fold:.3g}, survival x{r.survival_fold:.3g}")
            eff.add_row(trait, *cells)
        console.print(eff)
