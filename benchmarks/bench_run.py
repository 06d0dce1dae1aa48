"""Time the main job: ``seedsoil.simulate`` on the built-in scenarios and the full ``seedsoil run``.

    python benchmarks/bench_run.py            # the full set (about two minutes on 2 cores)
    python benchmarks/bench_run.py --quick    # a tenth of the patients, as a smoke test

Prints one row per case: patients, wall-clock seconds, patients per second and the target where
there is one (the default ``seedsoil run``, 10,000 patients including writing every file, must
finish in under 60 s), and the CPU seconds it used (its worker processes included), a figure
that a busy machine inflates less than the wall-clock time. Exits 1 when a target is missed or a case fails. Not a test: pytest never
collects this file (it is not named test_*).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUN_TARGET_S = 60.0
SEED = 20261121


@dataclass
class Case:
    name: str
    patients: int
    run: Callable[[int], None]
    target_s: float | None = None


@dataclass
class Row:
    case: Case
    seconds: float | None
    cpu_seconds: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        if self.error or self.seconds is None:
            return False
        return self.case.target_s is None or self.seconds < self.case.target_s


def _simulate(scenario: str, engine: str | None) -> Callable[[int], None]:
    def run(n: int) -> None:
        import seedsoil

        seedsoil.simulate(scenario, patients=n, seed=SEED, engine=engine)
    return run


def _cli_run(n: int) -> None:
    """``seedsoil run --patients n`` in a fresh process, writing into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="seedsoil-bench-") as tmp:
        cmd = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()",
               "run", "--patients", str(n), "--out", str(Path(tmp) / "run")]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"seedsoil run exited {proc.returncode}: {last}")


def cases(scale: float) -> list[Case]:
    def n(x: int) -> int:
        return max(1, int(x * scale))

    return [
        Case("simulate default (fast)", n(1_000), _simulate("default", "fast")),
        Case("simulate default (fast)", n(10_000), _simulate("default", "fast")),
        Case("simulate small (fast)", n(1_000), _simulate("small", "fast")),
        Case("simulate small (its own engine)", n(200), _simulate("small", None)),
        Case("seedsoil run default (incl. files)", n(10_000), _cli_run, DEFAULT_RUN_TARGET_S if scale == 1 else None),
    ]


def _cpu() -> float:
    """CPU seconds of this process and of every child it has waited for (workers, `seedsoil run`)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(case: Case) -> Row:
    c0, t0 = _cpu(), time.perf_counter()
    try:
        case.run(case.patients)
    except Exception as err:  # a failing case is reported, not fatal to the others
        return Row(case, None, error=f"{type(err).__name__}: {' '.join(str(err).split())[:300]}")
    return Row(case, time.perf_counter() - t0, _cpu() - c0)


def table(rows: list[Row]) -> str:
    head = ("case", "patients", "seconds", "patients/s", "target", "cpu s")
    body = []
    for r in rows:
        target = "" if r.case.target_s is None else f"< {r.case.target_s:g} s " + ("ok" if r.ok else "MISSED")
        if r.seconds is None:
            body.append((r.case.name, f"{r.case.patients:,}", "failed", "", target, ""))
        else:
            body.append((r.case.name, f"{r.case.patients:,}", f"{r.seconds:.1f}",
                         f"{r.case.patients / r.seconds:,.0f}", target, f"{r.cpu_seconds:.1f}"))
    widths = [max(len(str(x[i])) for x in (head, *body)) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    lines = [fmt(head), fmt(tuple("-" * w for w in widths)), *(fmt(b) for b in body)]
    lines += [f"failed: {r.case.name}, {r.case.patients:,} patients: {r.error}" for r in rows if r.error]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the patients (no target is checked)")
    args = ap.parse_args(argv)
    import seedsoil

    seedsoil.simulate("default", patients=5, seed=SEED, engine="fast")  # imports and data files: not timed
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"seedsoil {seedsoil.__version__}, Python {sys.version.split()[0]}, {cpus} CPU(s), seed {SEED}, "
          f"load average {load} (wall-clock times need an idle machine)", flush=True)
    rows = []
    for case in cases(0.1 if args.quick else 1.0):
        print(f"  {case.name}, {case.patients:,} patients ...", end=" ", flush=True)
        rows.append(measure(case))
        print("failed" if rows[-1].seconds is None else f"{rows[-1].seconds:.1f} s", flush=True)
    print()
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
