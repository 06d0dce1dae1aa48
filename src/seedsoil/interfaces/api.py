"""The Python API: ``seedsoil.simulate`` runs a cohort in memory and returns a :class:`Result`;
``seedsoil.run`` streams a cohort of any size into a run folder (resumable)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from seedsoil._version import __version__
from seedsoil.engine import get_engine
from seedsoil.engine.history import empty_funnel
from seedsoil.interfaces.execution import (Chunk, RunError, check_workers, dask_client, default_chunk, default_workers,
                                           plan_chunks,
                                           run_chunks, simulate_chunk)
from seedsoil.interfaces.store import PART_TABLES, RunFolder, RunIdentity, funnel_table
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, load_scenario
from seedsoil.scenario.model import with_ctc_draw_days

DEFAULT_SEED = 20261121
DEFAULT_PATIENTS = 10_000
SUMMARY_COLUMNS = ("patient_id", "subtype", "M", "dmfs_days", "dmfs_event", "os_days", "os_event",
                   "first_metastasis_sites", "metastasis_sites")
"""patients.parquet columns read back for the summary and figures of a streamed run."""
Progress = Callable[[int, int], None]


def resolve(scenario: Scenario | str | Path | None, params: ParameterSet | None = None) -> tuple[Scenario, ParameterSet]:
    """A (scenario, parameters) pair from a built-in name, a TOML path or a Scenario object."""
    if isinstance(scenario, Scenario):
        if params is None:
            from seedsoil.scenario import scenario_from_dict

            return scenario_from_dict(scenario.model_dump(mode="python"), f"<scenario {scenario.name}>")
        return scenario, params
    return load_scenario(scenario)


def _whole(name: str, value, minimum: int) -> int:
    """An integer argument (not a float, not a bool), at least ``minimum``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return int(value)


def _prepare(scenario, params, patients, seed, engine, workers, ctc_draw_days=None):
    n = _whole("patients", patients, 1)
    s = _whole("seed", seed, 0)
    k = check_workers(workers)
    sc, p = resolve(scenario, params)
    if ctc_draw_days is not None:
        sc = with_ctc_draw_days(sc, ctc_draw_days)
    eng = engine or sc.engine
    get_engine(eng)  # fail fast on an unknown engine name
    return sc, p, n, s, eng, k


def simulate_tables(scenario: Scenario, params: ParameterSet, chunks: list[Chunk], seed: int, engine: str,
                    workers: int = 1, scheduler: str | None = None, progress: Progress | None = None):
    """Simulate ``chunks``; return (patients, lesions, ctc_draws) Arrow tables in patient order
    and the funnel counts."""
    parts, total = {}, sum(len(c) for c in chunks)
    done = 0
    for out in run_chunks(scenario, params, engine, seed, chunks, workers, scheduler):
        parts[out.index] = out
        done += len(chunks[[c.index for c in chunks].index(out.index)])
        if progress is not None:
            progress(done, total)
    funnel = empty_funnel()
    for o in parts.values():
        funnel += o.funnel
    order = [parts[c.index] for c in chunks]
    return (*(pa.concat_tables([getattr(o, kind) for o in order]) for kind in PART_TABLES), funnel)


def simulate(scenario: Scenario | str | Path | None = None, *, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
             engine: str | None = None, params: ParameterSet | None = None, progress: Progress | None = None,
             workers: int | None = None, scheduler: str | None = None, chunk_patients: int | None = None,
             ctc_draw_days=None):
    """Simulate a cohort in memory (built-in name, TOML path or Scenario; default scenario when None).

    ``workers`` local processes (default: all CPUs) or a Dask ``scheduler`` address share the
    patients; results do not depend on either, nor on ``chunk_patients``. Returns a
    :class:`seedsoil.interfaces.results.Result` with ``.patients``, ``.lesions`` and ``.funnel``
    DataFrames and plotting helpers. ``ctc_draw_days`` (days from diagnosis) adds blood draws
    (``.ctc_draws``), replacing the scenario's ``[measurements] ctc_draw_days``. For cohorts too
    large for memory use :func:`run`."""
    from seedsoil.interfaces.results import Result

    sc, p, n, s, eng, k = _prepare(scenario, params, patients, seed, engine, workers, ctc_draw_days)
    t0 = time.perf_counter()
    pat, les, draws, funnel = simulate_tables(sc, p, plan_chunks(n, chunk_patients or default_chunk(eng)), s, eng, k,
                                       scheduler, progress)
    t1 = time.perf_counter()
    return Result(patients=pat.to_pandas(), lesions=les.to_pandas(), ctc_draws=draws.to_pandas(),
                  funnel=funnel_table(funnel).to_pandas(), scenario=sc, params=p, seed=s, engine=eng,
                  timings={"simulate_s": t1 - t0})


def simulate_with(scenario: Scenario, params: ParameterSet, overrides: dict[str, float], *, patients: int,
                  seed: int):
    """One process's in-memory cohort of ``scenario`` with parameter ``overrides`` on top of
    ``params`` (recorded in the scenario too): what calibration and sensitivity simulate."""
    sc = scenario.model_copy(update={"parameters": {**scenario.parameters, **overrides}})
    return simulate(sc, params=params.with_overrides(overrides), patients=patients, seed=seed, workers=1)


def run(scenario: Scenario | str | Path | None = None, out: str | os.PathLike = "seedsoil-run", *,
        patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, engine: str | None = None,
        params: ParameterSet | None = None, workers: int | None = None, scheduler: str | None = None,
        chunk_patients: int | None = None, resume: bool = False, overwrite: bool = False,
        progress: Progress | None = None, ctc_draw_days=None):
    """Simulate a cohort straight into the run folder ``out``, chunk by chunk (bounded memory):
    part files as chunks finish, final Parquet tables in patient order, figures, manifest.json
    last. ``resume`` finishes an interrupted run of the same command (every patient exactly once,
    files identical to an uninterrupted run); ``overwrite`` replaces another run in ``out``.
    Returns a Result holding the summary columns of patients (``SUMMARY_COLUMNS``) and the funnel;
    ``ctc_draw_days`` as in :func:`simulate` (ctc_draws.parquet)."""
    sc, p, n, s, eng, k = _prepare(scenario, params, patients, seed, engine, workers, ctc_draw_days)
    chunks = plan_chunks(n, chunk_patients or default_chunk(eng))
    identity = RunIdentity(seedsoil_version=__version__, scenario=sc.model_dump(mode="json"), seed=s, engine=eng,
                           patients=n, parameter_hash=p.digest(),
                           chunk_patients=int(chunk_patients or default_chunk(eng)))
    client = dask_client(scheduler) if scheduler is not None else None  # reachable before the folder is touched
    try:
        folder = RunFolder.open(Path(out), identity, resume=resume, overwrite=overwrite)
        return _fill(folder, chunks, sc, p, s, eng, k, client, progress)
    finally:
        if client is not None:
            client.close()


def _fill(folder: RunFolder, chunks: list[Chunk], sc: Scenario, p: ParameterSet, s: int, eng: str, k: int, client,
          progress: Progress | None):
    """Simulate the chunks the folder lacks, merge, draw and write the manifest."""
    from seedsoil.interfaces import plots
    from seedsoil.interfaces.results import Result

    out, n = folder.out, folder.identity.patients
    t0 = time.perf_counter()
    if not folder.finished:
        done = folder.done_chunks()
        todo = [c for c in chunks if c.index not in done]
        finished = sum(len(c) for c in chunks if c.index in done)
        if progress is not None:
            progress(finished, n)
        try:
            for part in run_chunks(sc, p, eng, s, todo, k, client):
                folder.write_part(part)
                finished += len(chunks[part.index])
                if progress is not None:
                    progress(finished, n)
        except ValueError:  # the model refused the scenario: deterministic, nothing worth resuming
            folder.abandon()
            raise
        t1 = time.perf_counter()
        folder.merge_parts(len(chunks))
        t2 = time.perf_counter()
        light = Result.load_tables(out, sc, p, s, eng, columns=SUMMARY_COLUMNS)
        light.timings = {"simulate_s": t1 - t0, "merge_s": t2 - t1}
        folder.complete(plots.figure_writers(light.tables()), light.manifest)
        return light
    return Result.load_tables(out, sc, p, s, eng, columns=SUMMARY_COLUMNS)


def trial(spec: str | Path, *, repeats: int = 1, seed: int = DEFAULT_SEED, workers: int | None = None,
          out: str | os.PathLike | None = None, progress: Progress | None = None):
    """Run a virtual trial (a built-in name, ``seedsoil trials`` lists them, or a TOML path):
    returns a :class:`seedsoil.interfaces.trial.TrialResult` (``.table``: one row per repeat,
    endpoint and arm vs control with hazard ratio, interval and log-rank p; ``.patients``: the
    first trial's enrolled patients; ``.summary``: trial_summary.json); ``out`` also writes the files."""
    from seedsoil.interfaces.trial import run_trial
    from seedsoil.scenario.trial import load_trial

    k = _whole("repeats", repeats, 1)
    s = _whole("seed", seed, 0)
    w = check_workers(workers)
    result = run_trial(load_trial(spec), k, s, w, progress)
    if out is not None:
        result.save(Path(out))
    return result


def journey(scenario: Scenario | str | Path | None = None, *, patient: int | None = None, subtype: str | None = None,
            histology: str | None = None, seed: int = DEFAULT_SEED, params: ParameterSet | None = None):
    """One patient's journey (:class:`seedsoil.interfaces.journey.Journey`: ``.story()``,
    ``.figure()``, ``.events``, ``.patient``, ``.lesions``): patient ``patient`` of a run of this
    scenario and seed, or the first relapsing patient of ``subtype``/``histology``."""
    from seedsoil.interfaces.journey import journey as _journey

    sc, p = resolve(scenario, params)
    n = None if patient is None else _whole("patient", patient, 0)
    return _journey(sc, p, sc.engine, _whole("seed", seed, 0), n, subtype, histology)


def twins(covariates, *, replicates: int = 1, seed: int = DEFAULT_SEED, scenario: Scenario | str | Path | None = None,
          params: ParameterSet | None = None, out: str | os.PathLike | None = None, skip_bad_rows: bool = False,
          max_candidates: int | None = None, warn=None, progress: Progress | None = None):
    """Virtual twins of real patients: ``covariates`` is a CSV path or a DataFrame (columns
    ``tumor_size_mm`` and ``positive_nodes`` required; see ``seedsoil twins --help``). Returns a
    :class:`seedsoil.interfaces.twins.TwinsResult` (``.patients``: one row per input row and
    replicate with ``row_id`` and ``replicate``; ``.lesions``; ``.rows``: matching and outcomes per
    row; ``.summary``: twins_summary.json with Kaplan-Meier DFS, DMFS and OS); ``out`` also writes
    the files. ``skip_bad_rows`` skips bad or unmatched rows with a warning instead of refusing."""
    from seedsoil.interfaces.twins import DEFAULT_MAX_CANDIDATES, simulate_twins
    from seedsoil.interfaces.twins_input import read_twins

    sc, p = resolve(scenario, params)
    r = _whole("replicates", replicates, 1)
    s = _whole("seed", seed, 0)
    m = DEFAULT_MAX_CANDIDATES if max_candidates is None else _whole("max_candidates", max_candidates, 1)
    table = read_twins(covariates, sc, p, skip_bad_rows=skip_bad_rows, warn=warn)
    result = simulate_twins(table, sc, p, replicates=r, seed=s, max_candidates=m, skip_unmatched=skip_bad_rows,
                            warn=warn, progress=progress)
    if out is not None:
        result.save(Path(out))
    return result


def sensitivity(scenario: Scenario | str | Path | None = None, *, method: str = "morris", parameters=None,
                span: float | None = None, patients: int | None = None, trajectories: int | None = None,
                samples: int | None = None, seed: int = DEFAULT_SEED, workers: int | None = None,
                out: str | os.PathLike | None = None, progress: Progress | None = None):
    """Global sensitivity of the main outputs (SALib Morris or Sobol): returns a
    :class:`seedsoil.interfaces.sensitivity.SensitivityResult` (``.indices``, ``.samples``,
    ``.summary``); ``out`` also writes the files and the tornado figure."""
    from seedsoil.interfaces import sensitivity as sa

    sc, p = resolve(scenario, None)
    result = sa.run_sensitivity(
        sc, p, method=method, parameters=sa.DEFAULT_PARAMETERS if parameters is None else tuple(parameters),
        span=sa.DEFAULT_SPAN if span is None else span,
        patients=sa.DEFAULT_PATIENTS if patients is None else _whole("patients", patients, 200),
        trajectories=sa.DEFAULT_TRAJECTORIES if trajectories is None else _whole("trajectories", trajectories, 2),
        samples=sa.DEFAULT_SAMPLES if samples is None else _whole("samples", samples, 2),
        seed=_whole("seed", seed, 0), workers=check_workers(workers), progress=progress)
    if out is not None:
        result.save(Path(out))
    return result


def calibrate(config: str | Path, *, out: str | os.PathLike = "seedsoil-calibration", resume: bool = False,
              workers: int | None = None, scheduler: str | None = None):
    """Fit a calibration (a built-in name or a TOML path) by ABC-SMC: returns a
    :class:`seedsoil.interfaces.calibrate.CalibrationResult` (``.posterior``, ``.summary_table``,
    ``.fit``, ``.scenario_toml``, ``.summary``) and writes its files into ``out`` (the ABC
    database there makes ``resume`` possible)."""
    from seedsoil.interfaces.calibrate import run_calibration
    from seedsoil.scenario.calibration import load_calibration

    cal = load_calibration(config)
    client = dask_client(scheduler) if scheduler is not None else None
    try:
        result = run_calibration(cal, Path(out), workers=check_workers(workers), resume=resume, scheduler=client)
    finally:
        if client is not None:
            client.close()
    result.save(Path(out))
    return result


__all__ = ["DEFAULT_PATIENTS", "DEFAULT_SEED", "RunError", "calibrate", "default_workers", "journey", "resolve", "run",
           "sensitivity", "simulate", "simulate_chunk", "simulate_with", "simulate_tables", "trial", "twins"]
