"""The Python API: ``seedsoil.simulate`` runs a cohort and returns a :class:`Result`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


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
CHUNK_PATIENTS = 500  # patients per task when running on several processes
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
    clinic = Clinic(params, OrganTable.from_params(params), scenario.cohort.follow_up_years,
                    tuple(c.share for c in scenario.clones))
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


def _chunk(args):
    return simulate_tables(*args)


def default_workers() -> int:
    """Processes to use: the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def simulate_parallel(scenario: Scenario, params: ParameterSet, patients: int, seed: int, engine: str,
                      workers: int, progress: Progress | None = None):
    """Like :func:`simulate_tables` over ``range(patients)``, in chunks on ``workers`` processes;
    chunks are merged in patient order, so the result is identical for any worker count."""
    chunks = [range(a, min(a + CHUNK_PATIENTS, patients)) for a in range(0, patients, CHUNK_PATIENTS)]
    if workers <= 1 or len(chunks) == 1:
        return simulate_tables(scenario, params, range(patients), seed, engine, progress)
    parts: dict[int, tuple] = {}
    done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_chunk, (scenario, params, ch, seed, engine)): i for i, ch in enumerate(chunks)}
        for fut in as_completed(futures):
            i = futures[fut]
            parts[i] = fut.result()
            done += len(chunks[i])
            if progress is not None:
                progress(done, patients)
    rows, lesions, funnel = [], [], empty_funnel()
    for i in range(len(chunks)):
        r, les, f = parts[i]
        rows += r
        lesions += les
        funnel += f
    return rows, lesions, funnel


def simulate(scenario: Scenario | str | Path | None = None, *, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
             engine: str | None = None, params: ParameterSet | None = None, progress: Progress | None = None,
             workers: int | None = None):
    """Simulate a cohort on a scenario (built-in name, TOML path or Scenario; default scenario when None).

    ``workers`` processes share the patients (default: all CPUs); results do not depend on it.
    Returns a :class:`seedsoil.interfaces.results.Result` with ``.patients``, ``.lesions`` and
    ``.funnel`` DataFrames and plotting helpers."""
    from seedsoil.interfaces.results import Result

    if int(patients) < 1:
        raise ValueError(f"patients must be at least 1, not {patients}")
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    sc, p = resolve(scenario, params)
    eng = engine or sc.engine
    get_engine(eng)  # fail fast on an unknown engine name
    t0 = time.perf_counter()
    rows, les, funnel = simulate_parallel(sc, p, int(patients), int(seed), eng,
                                          int(workers) if workers else default_workers(), progress)
    t1 = time.perf_counter()
    result = Result(patients=patients_frame(rows), lesions=lesions_frame(les), funnel=funnel_frame(funnel),
                    scenario=sc, params=p, seed=int(seed), engine=eng, timings={"simulate_s": t1 - t0})
    return result


__all__ = ["DEFAULT_PATIENTS", "DEFAULT_SEED", "default_workers", "resolve", "simulate", "simulate_parallel", "simulate_tables"]
