"""Python API of the experimental metastasis assays: :func:`run_assay` and its result.

>>> r = run_assay("intraportal", cells=5000, observe=[3, 13], seed=1)
>>> from seedsoil.engine.assay import STAGES
>>> set(STAGES) <= set(r.to_dict()["3"])
True
>>> r.to_dict()["13"]["injected"]["count"]
5000

The numbers come from :mod:`seedsoil.engine.assay` (which documents the model); this module
adds the published reference values, a table, a funnel figure and files.

**JSON** (``seedsoil assay --json`` prints :meth:`AssayResult.to_json`): one object keyed by
observation day as a short string (``"1"``, ``"13"``, ``"0.5"``). Each day holds:

* one entry per stage of :data:`~seedsoil.engine.assay.STAGES` (``injected``,
  ``alive_in_circulation``, ``arrested``, ``extravasated``, ``dead``, ``dormant_solitary``,
  ``micrometastases``, ``macrometastases``), each ``{"count": int, "fraction": float | null}``:
  units in the stage that day (cells, or clusters when injected as clusters) and their share of
  that day's ``injected`` units (``null`` when none has entered yet; for ``orthotopic``,
  ``injected`` counts the units the primary has shed into the blood by that day).
  ``injected = alive_in_circulation + arrested + extravasated + dead``; dormant solitary cells,
  micro- and macrometastases are among the extravasated;
* ``arrested_by_organ`` and ``macrometastases_by_organ``: ``{organ: int}`` units alive in a
  vessel of, and macroscopic metastases in, each organ (organs with none are left out);
* ``primary_cells`` (``orthotopic`` only): cells in the fat-pad primary that day (float).

``assay.json`` (:meth:`AssayResult.save`) holds :meth:`AssayResult.summary`: ``assay``,
``cells``, ``cluster_size``, ``units``, ``cells_per_unit``, ``seed``, ``observe_days``,
``parameter_digest``, ``references`` (a list of ``{"day", "stage", "reference", "model",
"source"}``: published fractions beside the model's), ``metastatic_potential`` and
``human_dissemination_efficiency`` when they were computed, and the object above as ``funnel``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seedsoil.engine.assay import (
    STAGES, AssayFunnel, DisseminationEfficiency, MetastaticPotential, assay_traits, day_key,
    metastases_per_disseminated_cell, metastatic_potential, mouse_parameters, simulate_assay,
)
from seedsoil.params import ParameterSet, default_parameters

DEFAULT_SEED = 20261121
DEFAULT_CELLS = 100_000
DEFAULT_OBSERVE = (1.0, 3.0, 13.0)
FIGURE_FILE = "assay_funnel.png"
JSON_FILE = "assay.json"
DPI = 120
PNG_METADATA = {"Software": None}
STAGE_LABELS = {
    "injected": "injected", "alive_in_circulation": "alive in circulation", "arrested": "arrested (in vessel)",
    "extravasated": "extravasated (alive)", "dead": "dead", "dormant_solitary": "dormant solitary cells",
    "micrometastases": "micrometastases", "macrometastases": "macroscopic metastases",
}
ALIVE = "alive"
"""Pseudo-stage of the references: every unit not dead (in blood, in a vessel or extravasated)."""


@dataclass(frozen=True)
class Reference:
    """A published number an assay is calibrated to: fraction of injected units in ``stage`` at ``day``."""

    assay: str
    day: float
    stage: str
    value: float
    source: str


REFERENCES = (
    Reference("intraportal", 3.0, "extravasated", 0.83, "Luzzi et al. 1998 Am J Pathol 153:865"),
    Reference("intraportal", 3.0, "micrometastases", 0.025, "Luzzi et al. 1998"),
    Reference("intraportal", 13.0, "macrometastases", 0.0002, "Luzzi et al. 1998"),
    Reference("intraportal", 13.0, "dormant_solitary", 0.36, "Luzzi et al. 1998"),
    Reference("intravenous", 1.0, ALIVE, 0.01, "Fidler 1970 JNCI 45:773"),
)
ACETO_RANGE = (23.0, 50.0)
"""Aceto et al. 2014 Cell 158:1110: clusters carry 23-50x the metastatic potential of single cells."""


@dataclass
class AssayResult:
    """Funnel of one assay run, with what produced it and optional comparisons.

    ``potential``: clusters versus single cells (when clusters were injected);
    ``efficiency``: metastases per disseminated unit of the human model (orthotopic, when asked)."""

    funnel: AssayFunnel
    params: ParameterSet
    potential: MetastaticPotential | None = None
    efficiency: DisseminationEfficiency | None = None

    @property
    def assay(self) -> str:
        return self.funnel.assay

    @property
    def days(self) -> tuple[float, ...]:
        return self.funnel.days

    def to_dict(self) -> dict[str, dict]:
        """``{day: {stage: {"count": ..., "fraction": ...}, "arrested_by_organ": {...}, ...}}``."""
        return self.funnel.to_dict()

    def to_json(self) -> str:
        """The funnel as one JSON object (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=2)

    def fraction(self, day: float, stage: str) -> float:
        """Fraction of injected units in ``stage`` (or ``'alive'``) at ``day``."""
        if stage == ALIVE:
            return 1.0 - self.funnel.fraction(day, "dead")
        return self.funnel.fraction(day, stage)

    @property
    def frame(self) -> pd.DataFrame:
        """Long table: day, stage, count, fraction (of injected units that day)."""
        frac = self.funnel.fractions()
        rows = [(d, s, int(self.funnel.counts[i, j]), float(frac[i, j]))
                for i, d in enumerate(self.days) for j, s in enumerate(STAGES)]
        return pd.DataFrame(rows, columns=["day", "stage", "count", "fraction"])

    def references(self) -> list[tuple[Reference, float]]:
        """Published values for this assay at the observed days, each with the model's value."""
        return [(r, self.fraction(r.day, r.stage)) for r in REFERENCES
                if r.assay == self.assay and r.day in self.days and self.funnel.cells_per_unit == 1.0]

    def summary(self) -> dict:
        """What ran and the comparisons, for assay.json."""
        out: dict[str, object] = {
            "assay": self.assay, "cells": self.funnel.meta.get("cells"), "cluster_size": self.funnel.meta.get("cluster_size"),
            "units": self.funnel.meta.get("units"), "cells_per_unit": self.funnel.cells_per_unit,
            "seed": self.funnel.seed, "observe_days": list(self.days), "parameter_digest": self.params.digest(),
            "references": [{"day": r.day, "stage": r.stage, "reference": r.value, "model": v, "source": r.source}
                           for r, v in self.references()],
        }
        if self.potential is not None:
            pot = self.potential
            out["metastatic_potential"] = {
                "definition": "macroscopic metastases per injected cell-equivalent, clusters over single cells",
                "assay": pot.assay, "cluster_size": pot.cluster_size, "day": pot.day, "ratio": pot.ratio,
                "per_unit_ratio": pot.unit_ratio, "reference": list(ACETO_RANGE), "source": "Aceto et al. 2014 Cell 158:1110",
            }
        if self.efficiency is not None:
            eff = self.efficiency
            out["human_dissemination_efficiency"] = {
                "patients": eff.patients, "seed": eff.seed, "units_shed": eff.shed, "units_entered_blood": eff.entered_blood,
                "colonies": eff.colonies, "colonies_per_shed_unit": eff.per_shed_unit,
                "shed_units_per_metastasis": eff.units_per_metastasis,
                "reference_cells_per_metastasis": eff.reference_cells_per_metastasis,
                "source": "Coumans et al. 2013 BMC Cancer 13:283",
            }
        out["funnel"] = self.to_dict()
        return out

    def plot(self) -> Figure:
        """The funnel: one group of horizontal bars per stage (log count), one bar per observation day."""
        fig = Figure(figsize=(8.0, 0.55 * len(STAGES) + 1.6), dpi=DPI, layout="tight")
        ax = fig.add_subplot()
        n_days = len(self.days)
        height = 0.8 / n_days
        y = np.arange(len(STAGES))[::-1].astype(float)
        counts = self.funnel.counts.astype(float)
        frac = self.funnel.fractions()
        colours = [f"C{i % 10}" for i in range(n_days)]
        for i, day in enumerate(self.days):
            yi = y + 0.4 - (i + 0.5) * height
            ax.barh(yi, np.where(counts[i] > 0, counts[i], np.nan), height, color=colours[i], label=f"day {day_key(day)}")
            for yy, c, f in zip(yi, counts[i], frac[i]):
                if c > 0:
                    ax.text(c * 1.15, yy, f"{int(c):,} ({f:.2g})", va="center", fontsize=6.5)
        ax.set_xscale("log")
        top = max(float(np.nanmax(counts)) if counts.size else 1.0, 1.0)
        ax.set_xlim(0.5, top * 60.0)
        ax.set_yticks(y, [STAGE_LABELS[s] for s in STAGES])
        ax.set_xlabel("Injected units in the stage (count, log scale; fraction of injected in brackets)")
        unit = "cells" if self.funnel.cells_per_unit == 1.0 else f"units ({self.funnel.cells_per_unit:g} cells each)"
        ax.set_title(f"{self.assay} assay: {self.funnel.meta.get('units', 0):,} {unit}, seed {self.funnel.seed}")
        ax.legend(fontsize="small", loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        return fig

    def save(self, out: str | Path) -> Path:
        """Write assay_funnel.png and assay.json into ``out`` (created if needed); return the folder."""
        from seedsoil.interfaces.store import atomic_write, remove_stale_temporaries

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        text = json.dumps(self.summary(), indent=2, allow_nan=False, default=_json_default) + "\n"
        fig = self.plot()
        atomic_write(folder / FIGURE_FILE, lambda p: fig.savefig(p, format="png", metadata=PNG_METADATA))
        atomic_write(folder / JSON_FILE, lambda p: p.write_text(text, encoding="utf-8"))
        return folder


def _json_default(x: object) -> object:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def run_assay(assay: str, cells: int = DEFAULT_CELLS, observe: Sequence[float] = DEFAULT_OBSERVE,
              seed: int = DEFAULT_SEED, *, clusters: int = 1, traits: Mapping[str, float] | None = None,
              overrides: Mapping[str, object] | None = None, params: ParameterSet | None = None,
              potential: bool | None = None, human_patients: int = 0) -> AssayResult:
    """Run a mouse metastasis assay and count the injected units by stage at each observation day.

    ``assay``: 'intravenous' (tail vein, lung first; Fidler 1970), 'intraportal' (liver first;
    Luzzi 1998), 'intracardiac' (arterial, no first bed) or 'orthotopic' (a primary growing in
    the mammary fat pad from ``cells`` implanted cells sheds units into the blood).
    ``cells``: cells injected; with ``clusters`` = k > 1 they go in as ``cells // k`` clusters
    of k cells. ``traits``: changes to the injected line's traits (``assay.trait.*``), e.g.
    ``{"platelet_binding": 1.0}``. ``overrides``: parameter values (any name of ``seedsoil
    params``; mouse values are ``assay.mouse.<name>``). ``potential``: also compute the
    metastatic potential of clusters versus single cells (default: when clusters > 1);
    metastatic potential is macroscopic metastases per injected cell-equivalent (a cluster of k
    cells counts as k cells) at ``assay.potential_observe_days``, as Aceto et al. 2014 compared
    it. ``human_patients`` > 0 (orthotopic): also compute the human model's colonies per unit
    shed over that many patients of the default scenario (Coumans et al. 2013: 1 per 6e7).
    """
    p = params if params is not None else default_parameters()
    if overrides:
        p = p.with_overrides(overrides)
    tr = None
    if traits:
        base = {"ecad": p["assay.orthotopic.ecad"]} if assay == "orthotopic" else {}
        tr = assay_traits(mouse_parameters(p), **{**base, **dict(traits)})
    funnel = simulate_assay(assay, cells, observe, seed, cluster_size=clusters, params=p, traits=tr)
    pot = None
    if potential or (potential is None and clusters > 1):
        pot = metastatic_potential(clusters if clusters > 1 else None,
                                   assay=assay if assay != "orthotopic" else "intravenous", params=p, traits=tr)
    eff = metastases_per_disseminated_cell(human_patients) if human_patients and human_patients > 0 else None
    return AssayResult(funnel=funnel, params=p, potential=pot, efficiency=eff)


def format_fraction(f: float) -> str:
    """A fraction with three significant figures ('0.839', '0.000201'), '-' when undefined."""
    return "-" if f is None or (isinstance(f, float) and math.isnan(f)) else f"{f:.3g}"


__all__ = ["ACETO_RANGE", "AssayResult", "REFERENCES", "Reference", "run_assay"]
