"""A parameter's range is a contract (issue 8): any scenario that validates runs to the end in
bounded memory and time, or is refused with one clean error. Hypothesis draws scenarios with
several parameters at and between their bounds, jointly, and runs each on a few patients in a
forked child with a memory limit and a time limit."""

from __future__ import annotations

import math
import multiprocessing as mp
import resource

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedsoil.params import ParameterError, default_parameters
from seedsoil.scenario import ScenarioError, load_scenario, scenario_from_dict

pytestmark = pytest.mark.slow

REGISTRY = default_parameters()
NAMES = sorted(n for n in REGISTRY if not n.startswith("assay."))
MEMORY_LIMIT = 3 * 2**30  # bytes of address space one child may add to what it inherits at the fork


def _address_space() -> int:
    """This process's current virtual memory size (bytes), from /proc (Linux)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
TIME_LIMIT_S = 120  # a hang, never a speed assertion
PATIENTS = 5
CLEAN = (ScenarioError, ParameterError)  # refusals the CLI prints as one line (ModelRangeError is a ScenarioError)


def _value(name: str, where: float) -> float:
    """A value of ``name`` at fraction ``where`` of its range (log scale for positive ranges spanning decades)."""
    m = REGISTRY.meta(name)
    lo, hi = m.minimum, m.maximum
    if lo > 0 and hi / lo > 100:
        v = math.exp(math.log(lo) + where * (math.log(hi) - math.log(lo)))
    else:
        v = lo + where * (hi - lo)
    v = min(max(v, lo), hi)
    return float(round(v)) if m.integer else v


positions = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))
overrides = st.dictionaries(st.sampled_from(NAMES), positions, min_size=1, max_size=6)


def _child(params: dict, conn) -> None:
    # the forked worker's own footprint (earlier tests, loaded libraries) is not the scenario's
    limit = _address_space() + MEMORY_LIMIT
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        import seedsoil

        sc, _ = load_scenario("default")
        data = sc.model_dump(mode="python")
        data["parameters"] = params
        sc, p = scenario_from_dict(data, "<drawn>")
        r = seedsoil.simulate(sc, params=p, patients=PATIENTS, seed=3, workers=1)
        conn.send(("ok", len(r.patients)))
    except CLEAN as err:
        conn.send(("refused", str(err)))
    except BaseException as err:  # noqa: BLE001 - the point is to report anything else
        conn.send(("crash", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(overrides)
def test_every_allowed_scenario_runs_or_is_refused_cleanly(where):
    params = {name: _value(name, w) for name, w in where.items()}
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(params, child))
    proc.start()
    child.close()
    ready = parent.poll(TIME_LIMIT_S)
    proc.join(5 if ready else 0)
    if proc.is_alive():
        proc.kill()
        pytest.fail(f"hang: {params}")
    assert ready, f"child died without an answer (exit {proc.exitcode}; memory limit?): {params}"
    status, detail = parent.recv()
    assert status != "crash", f"{detail}\n{params}"
    if status == "refused":
        lines = detail.strip().splitlines()
        assert 1 <= len(lines) <= 6 and all(line.strip() for line in lines), detail
    else:
        assert detail == PATIENTS
