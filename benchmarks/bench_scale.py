"""Scale benchmark of the cohort engine: patients per second and peak memory of `seedsoil run`.

    python benchmarks/bench_scale.py            # 1e3 .. 1e6 patients, 1e7 streamed, fast vs reference, profile
    python benchmarks/bench_scale.py --quick    # 1e3 .. 1e5 and the engine comparison only (a smoke test)

Each size runs the default scenario with 20-year follow-up as a fresh `seedsoil run` process on
all CPUs, writing every file (Parquet, figures, manifest); peak memory is the largest summed
resident memory of that process and its workers, sampled every 50 ms. Then the fast and the
per-cell reference engine simulate the same patients of the `small` scenario on one core, and a
stage profile says where one core's time goes. Prints tables; exits 1 when a target is missed.
Not a test: pytest never collects it (named bench_*).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SEED = 20261121
TARGETS = {1_000_000: (30.0, 4.0), 10_000_000: (None, 4.0)}  # patients: (wall s, peak GiB)
REFERENCE_RATIO_TARGET = 1000.0
REFERENCE_BLOCK = 1024  # patients of the small scenario compared (one block)
REFERENCE_PATIENTS = 16  # reference-engine patients timed at default tumour sizes (seconds each)
SAMPLE_S = 0.05
SCENARIO = '[cohort]\nfollow_up_years = 20\n'


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc] + proc.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_cli(patients: int, scenario: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak GiB of one `seedsoil run`."""
    cmd = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()", "run", str(scenario),
           "--patients", str(patients), "--seed", str(SEED), "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg", "CI": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ps, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(ps))
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr.read().decode().strip().splitlines()[-1])
    return wall, peak / 2**30


def engines_compared(size_mm: float | None, patients: int) -> tuple[float, float | None]:
    """Seconds per patient of the fast and the reference engine on the same patients (one core):
    the `small` scenario (``size_mm`` None) or default patients all diagnosed at ``size_mm``
    (TMEM spread narrowed).
    The reference time is None when it refuses a patient (over its unit cap)."""
    import seedsoil
    from seedsoil.scenario import ScenarioError, load_scenario, scenario_from_dict

    if size_mm is None:
        sc, p = load_scenario("small")
    else:
        data = load_scenario("default")[0].model_dump(mode="python")
        # TMEM spread narrowed (tmem.log_sd 0.1) so that no patient exceeds the reference engine's cap early
        data["parameters"] = {"diagnosis.size_median_mm": size_mm, "diagnosis.size_log_sd": 0.05, "tmem.log_sd": 0.1}
        sc, p = scenario_from_dict(data, f"<{size_mm} mm>")
    out = []
    for engine, n in (("fast", REFERENCE_BLOCK), ("reference", patients)):
        try:
            seedsoil.simulate(sc, params=p, patients=2, seed=SEED, engine=engine, workers=1)  # warm up
            t0 = time.perf_counter()
            seedsoil.simulate(sc, params=p, patients=n, seed=SEED, engine=engine, workers=1)
            out.append((time.perf_counter() - t0) / n)
        except ScenarioError:
            out.append(None)
    return out[0], out[1]


def stage_profile(blocks: int = 16) -> dict[str, float]:
    """Microseconds per patient on one core by stage (default scenario, 20-year follow-up)."""
    from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, block_rng
    from seedsoil.interfaces.api import resolve
    from seedsoil.interfaces.execution import _model, to_arrow_table

    sc, p = resolve("default")
    data = sc.model_dump(mode="python")
    data["cohort"]["follow_up_years"] = 20
    from seedsoil.scenario import scenario_from_dict

    sc, p = scenario_from_dict(data, "<20 y>")
    eng, clinic = _model(sc, p, "fast")

    def one(b: int):
        """Engine to surgery and after it (engine), staging, plan and course (clinic)."""
        t0 = time.process_time()
        h = eng.simulate_block(b, SEED)
        st = clinic.stage(h)
        plan = clinic.plan(h, st)
        h = eng.after_surgery(h, clinic.exposure(h, plan), SEED, b)
        t1 = time.process_time()
        out = clinic.course(h, st, plan, block_rng(SEED, b, Phase.CLINIC))
        return out, t0, t1, time.process_time()

    out, *_ = one(0)
    to_arrow_table(out.patients, "patients")  # warm up
    t = {"engine": 0.0, "clinic": 0.0, "arrow": 0.0}
    for b in range(1, blocks + 1):
        out, t0, t1, t2 = one(b)
        to_arrow_table(out.patients, "patients"), to_arrow_table(out.lesions, "lesions")
        t3 = time.process_time()
        t["engine"] += t1 - t0
        t["clinic"] += t2 - t1
        t["arrow"] += t3 - t2
    n = blocks * BLOCK_PATIENTS
    return {k: v / n * 1e6 for k, v in t.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes up to 1e5 and the engine comparison only")
    ap.add_argument("--sizes", type=lambda t: [int(float(x)) for x in t.split(",")], default=None,
                    help="comma-separated cohort sizes instead of the default set, e.g. 1e7")
    args = ap.parse_args()
    sizes = args.sizes or ([1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000, 10_000_000]))
    ok = True
    with tempfile.TemporaryDirectory(prefix="seedsoil-bench-") as tmp:
        scenario = Path(tmp) / "default_20y.toml"
        scenario.write_text(SCENARIO)
        print(f"{'patients':>12} {'wall s':>8} {'patients/s':>12} {'us/patient':>11} {'peak GiB':>9}  target")
        for n in sizes:
            wall, peak = run_cli(n, scenario, Path(tmp) / f"run{n}")
            target = TARGETS.get(n)
            note = ""
            if target:
                t_wall, t_mem = target
                good = (t_wall is None or wall <= t_wall) and peak <= t_mem
                ok &= good
                note = (f"<= {t_wall:g} s, " if t_wall else "") + f"<= {t_mem:g} GiB: {'met' if good else 'MISSED'}"
            print(f"{n:>12,} {wall:>8.1f} {n / wall:>12,.0f} {wall / n * 1e6:>11.1f} {peak:>9.2f}  {note}")
    print(f"\nfast vs reference engine, same patients, one core (target reference / fast >= "
          f"{REFERENCE_RATIO_TARGET:,.0f}x)")
    print(f"{'patients':>28} {'fast us/patient':>16} {'reference ms/patient':>21} {'ratio':>8}")
    for size in (None, 15.0, 25.0, 35.0):
        fast, ref = engines_compared(size, REFERENCE_PATIENTS if size else REFERENCE_BLOCK)
        label = "small scenario (3-8 mm)" if size is None else f"default, all {size:g} mm"
        if ref is None:
            print(f"{label:>28} {fast * 1e6:>16.1f} {'refused (unit cap)':>21} {'-':>8}")
            continue
        ratio = ref / fast
        if size is None:
            ok &= ratio >= REFERENCE_RATIO_TARGET
        print(f"{label:>28} {fast * 1e6:>16.1f} {ref * 1e3:>21.2f} {ratio:>7,.0f}x")
    prof = stage_profile()
    total = sum(prof.values())
    print("\none core, default scenario (20-year follow-up), microseconds per patient: "
          + ", ".join(f"{k} {v:.1f}" for k, v in prof.items()) + f", total {total:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
