"""Running a cohort: patients in chunks of whole random-stream blocks, simulated serially, on
local worker processes or on a Dask cluster, and handed back as Arrow tables. Results do not
depend on the chunk size, the number of workers or the scheduler (streams are keyed by block)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from seedsoil.biology.organs import OrganTable
from seedsoil.clinic import Clinic
from seedsoil.clinic.records import Labels, _Columns
from seedsoil.engine import get_engine
from seedsoil.engine.history import empty_funnel
from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, block_rng, blocks_for
from seedsoil.interfaces.schema import arrow_schema
from seedsoil.interfaces.stopping import POLL_S, check_stop
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario

CHUNK_BLOCKS = 16
"""Default chunk of a batch engine: 16 blocks (16,384 patients) per task and per part file; a
per-cell engine's chunk is one block, so its slow patients spread over the workers."""


def default_chunk(engine: str) -> int:
    """Patients per chunk when the user does not say: whole blocks, fewer for per-cell engines."""
    return (CHUNK_BLOCKS if get_engine(engine).capabilities.batch else 1) * BLOCK_PATIENTS
IN_FLIGHT_PER_WORKER = 2
"""Chunks queued per worker at most (bounds memory in the main process)."""
SCHEDULER_TIMEOUT_S = 5
"""Seconds to wait for a Dask scheduler before saying it cannot be reached."""
Progress = Callable[[int, int], None]


class RunError(ValueError):
    """A run cannot start or go on as asked (bad worker count, unreachable scheduler...): one line."""


@dataclass(frozen=True)
class Chunk:
    """Patients ``first .. stop-1``, the ``index``-th chunk of a run."""

    index: int
    first: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.first


@dataclass
class ChunkOutput:
    """What a chunk produced: patients, lesions and blood draws as Arrow tables (schema order)
    and the funnel counts (stage x site) summed over its patients."""

    index: int
    patients: pa.Table
    lesions: pa.Table
    funnel: np.ndarray
    ctc_draws: pa.Table


def plan_chunks(patients: int, chunk_patients: int | None = None) -> list[Chunk]:
    """Cut ``range(patients)`` into chunks of ``chunk_patients`` (a multiple of BLOCK_PATIENTS)."""
    size = chunk_patients or CHUNK_BLOCKS * BLOCK_PATIENTS
    if size < 1 or size % BLOCK_PATIENTS:
        raise RunError(f"chunk size must be a positive multiple of {BLOCK_PATIENTS} patients, not {size}")
    return [Chunk(i, a, min(a + size, patients)) for i, a in enumerate(range(0, patients, size))]


def to_arrow_table(records: _Columns, table: str) -> pa.Table:
    """Typed records as an Arrow table with the schema of ``table`` (NaN -> null)."""
    schema = arrow_schema(table)
    cols = records.columns()
    arrays = []
    for f in schema:
        col = cols[f.name]
        if isinstance(col, Labels):
            col = pa.DictionaryArray.from_arrays(pa.array(col.codes, pa.int32()),
                                                 pa.array(col.names, pa.string())).cast(f.type)
        else:
            col = pa.array(col, type=f.type, from_pandas=True)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


_MODELS: dict = {}


def _model(scenario: Scenario, params: ParameterSet, engine: str):
    """(engine, clinic) for this scenario, built once per process."""
    key = (engine, params.digest(), scenario.model_dump_json())
    hit = _MODELS.get(key)
    if hit is None:
        eng = get_engine(engine)(scenario, params)
        hit = (eng, Clinic(params, OrganTable.from_params(params), scenario.cohort.follow_up_years,
                           scenario.treatment, scenario.measurements.ctc_draw_days))
        _MODELS.clear()
        _MODELS[key] = hit
    return hit


def clinical_block(eng, clinic: Clinic, block: int, seed: int, rows: np.ndarray):
    """Patients ``rows`` of one block from first cell to death: :func:`block_history`, then the
    clinical course."""
    return clinic.course(*block_history(eng, clinic, block, seed, rows), block_rng(seed, block, Phase.CLINIC))


def block_history(eng, clinic: Clinic, block: int, seed: int, rows: np.ndarray):
    """(history, staging, plan) of patients ``rows`` of one block after surgery: the engine until
    surgery, the clinic's staging and plan, the engine's after-surgery step (a batch engine on the
    whole block, so that a patient's draws do not depend on which others are kept)."""
    whole = len(rows) == BLOCK_PATIENTS
    if eng.capabilities.batch:
        h = eng.simulate_block(block, seed)
    else:
        h = eng.simulate_rows(block, seed, rows)
        whole = True
    st = clinic.stage(h)
    plan = clinic.plan(h, st)
    h = eng.after_surgery(h, clinic.exposure(h, plan), seed, block)
    if not whole:
        h = h.take(rows)
        st = clinic.stage(h)
        plan = clinic.plan(h, st)
    return h, st, plan


def simulate_chunk(scenario: Scenario, params: ParameterSet, engine: str, seed: int, chunk: Chunk) -> ChunkOutput:
    """Simulate one chunk block by block (every engine, the clinic, conversion to Arrow)."""
    eng, clinic = _model(scenario, params, engine)
    patients, lesions, draws = [], [], []
    funnel = empty_funnel()
    for block in blocks_for(chunk.first, chunk.stop):
        check_stop()
        lo = max(chunk.first - block * BLOCK_PATIENTS, 0)
        hi = min(chunk.stop - block * BLOCK_PATIENTS, BLOCK_PATIENTS)
        out = clinical_block(eng, clinic, block, seed, np.arange(lo, hi))
        patients.append(out.patients)
        lesions.append(out.lesions)
        draws.append(out.ctc_draws)
        funnel += out.funnel
    p = type(patients[0]).concat(patients)
    les = type(lesions[0]).concat(lesions)
    return ChunkOutput(chunk.index, to_arrow_table(p, "patients"), to_arrow_table(les, "lesions"), funnel,
                       to_arrow_table(type(draws[0]).concat(draws), "ctc_draws"))


def default_workers() -> int:
    """Processes to use: the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _die_with_parent() -> None:
    """Worker initialiser: end this worker when the main process dies (even by SIGKILL), and
    leave SIGINT to the main process, which cancels the work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no libc
            pass


def check_workers(workers: int | None) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise RunError(f"workers must be a whole number of at least 1, not {workers!r}")
    return int(workers)


def dask_client(address: str):
    """A Dask distributed client for ``address`` (host:port or tcp://host:port), or a RunError."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is a declared dependency
        raise RunError("--scheduler needs dask[distributed]: pip install 'seedsoil[distributed]'") from None
    text = address.strip()
    if not text or any(ch.isspace() for ch in text):
        raise RunError(f"scheduler address {address!r} is not host:port or tcp://host:port")
    if "://" not in text:
        text = f"tcp://{text}"
    proto, _, rest = text.partition("://")
    host, _, port = rest.rpartition(":")
    if proto not in ("tcp", "tls", "inproc", "ws", "wss") or not host or not port.isdigit():
        raise RunError(f"scheduler address {address!r} is not host:port or tcp://host:port")
    try:
        return Client(text, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise RunError(f"cannot reach the Dask scheduler at {address}: {err}") from None
    except Exception as err:  # distributed raises several types for bad addresses
        raise RunError(f"cannot connect to the Dask scheduler at {address}: {err}") from None


def run_chunks(scenario: Scenario, params: ParameterSet, engine: str, seed: int, chunks: list[Chunk],
               workers: int = 1, scheduler: str | None = None) -> Iterator[ChunkOutput]:
    """Simulate ``chunks`` and yield their outputs as they finish (any order). Serial for one
    worker, local processes for several, a Dask cluster for ``scheduler``. Stopping the
    iteration (an interrupt) cancels queued chunks and ends the workers."""
    if not chunks:
        return
    if scheduler is not None:
        yield from _run_dask(scenario, params, engine, seed, chunks, scheduler)
    elif workers <= 1 or len(chunks) == 1:
        for ch in chunks:
            yield simulate_chunk(scenario, params, engine, seed, ch)
    else:
        yield from _run_processes(scenario, params, engine, seed, chunks, workers)


def _run_processes(scenario, params, engine, seed, chunks, workers) -> Iterator[ChunkOutput]:
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), initializer=_die_with_parent)
    todo = list(chunks)
    running: set = set()
    finished = False
    try:
        while todo or running:
            while todo and len(running) < workers * IN_FLIGHT_PER_WORKER:
                running.add(pool.submit(simulate_chunk, scenario, params, engine, seed, todo.pop(0)))
            done, running = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            check_stop()
            for fut in done:
                yield fut.result()
        finished = True
    finally:
        if not finished:
            for fut in running:
                fut.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(scenario, params, engine, seed, chunks, scheduler) -> Iterator[ChunkOutput]:
    """On a Dask cluster: ``scheduler`` is an address or an open ``distributed.Client`` (left open)."""
    from distributed import as_completed

    own = isinstance(scheduler, str)
    client = dask_client(scheduler) if own else scheduler
    try:
        futures = [client.submit(simulate_chunk, scenario, params, engine, seed, ch, pure=False) for ch in chunks]
        try:
            pending = as_completed(futures, loop=client.loop)
            while not pending.is_empty():
                for fut in pending.next_batch(block=False) or ():
                    yield fut.result()
                check_stop()
                if not pending.is_empty() and not pending.has_ready():
                    time.sleep(POLL_S / 4)
        finally:
            client.cancel(futures)
    finally:
        if own:
            client.close()
