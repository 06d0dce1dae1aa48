"""The Python API: ``seedsoil.simulate`` runs a cohort and returns a :class:`Result`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seedsoil.biology.organs import OrganTable
from seedsoil.clinic import Clinic
from seedsoil.engine import get_engine
from seedsoil.engine.history import FUNNEL_STAGES, empty_funnel
from seedsoil.engine.streams import CLINIC, patient_rng
from seedsoil.interfaces.tables import funnel_frame, lesions_frame, patients_frame
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, load_scenario

DEFAULT_SEED = 20261121
DEFAULT_PATIENTS = 10_000
Progress = Callable[[int, int], None]


def resolve(scenario: Scenario | str | Path | None, params: ParameterSet | None = None) -> tuple[Scenario, ParameterSet]:
    """A (scenario, parameters) pair from a built-in name, a TOML path or a Scenario object."""
    if isinstance(scenario, Scenario):
        if params is None:
            from seedsoil.scenario import scenario_from_dict

            return scenario_from_dict(scenario.model_dump(mode="python"), f"<scenario {scenario.name}>")
        return scenario, params
    return load_scenario(scenario)


def simulate_tables(scenario: Scenario, params: ParameterSet, patient_ids, seed: int, engine: str,
                    progress: Progress | None = None, total: int | None = None):
    """Simulate the given patients; return (patient rows, lesion rows, funnel counts).

    Each patient uses only her own random streams, so any partition of ``patient_ids`` into
    chunks gives the same rows."""
    eng = get_engine(engine)(scenario, params)
    clinic = Clinic(params, OrganTable.from_params(params), scenario.cohort.follow_up_years)
    rows, lesions = [], []
    funnel = empty_funnel()
    detected = FUNNEL_STAGES.index("detected")
    ids = list(patient_ids)
    total = total or len(ids)
    for k, pid in enumerate(ids, 1):
        h = eng.simulate(pid, seed)
        out = clinic.course(h, patient_rng(seed, pid, CLINIC))
        funnel += h.funnel
        funnel[detected, 1:-1] += out.detected_by_organ
        rows.append(out.row)
        lesions.extend(out.lesions)
        if progress is not None and (k % 100 == 0 or k == len(ids)):
            progress(k, total)
    return rows, lesions, funnel


def simulate(scenario: Scenario | str | Path | None = None, *, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
             engine: str | None = None, params: ParameterSet | None = None, progress: Progress | None = None):
    """Simulate a cohort on a scenario (built-in name, TOML path or Scenario; default scenario when None).

    Returns a :class:`seedsoil.interfaces.results.Result` with ``.patients``, ``.lesions`` and
    ``.funnel`` DataFrames and plotting helpers."""
    from seedsoil.interfaces.results import Result

    if int(patients) < 1:
        raise ValueError(f"patients must be at least 1, not {patients}")
    sc, p = resolve(scenario, params)
    eng = engine or sc.engine
    t0 = time.perf_counter()
    rows, les, funnel = simulate_tables(sc, p, range(int(patients)), int(seed), eng, progress)
    t1 = time.perf_counter()
    result = Result(patients=patients_frame(rows), lesions=lesions_frame(les), funnel=funnel_frame(funnel),
                    scenario=sc, params=p, seed=int(seed), engine=eng, timings={"simulate_s": t1 - t0})
    return result


__all__ = ["DEFAULT_PATIENTS", "DEFAULT_SEED", "simulate", "simulate_tables", "resolve"]
