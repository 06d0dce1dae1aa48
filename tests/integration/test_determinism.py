"""Reproducibility of a run: same scenario and seed give the same rows and bytes, whatever the chunking.

README: "Same scenario and seed give byte-identical Parquet files, whatever the order patients
are simulated in." Random streams are keyed by (seed, block, phase) with blocks of
``BLOCK_PATIENTS`` patients; a run of N patients simulates whole blocks and keeps the first N.
So patient i's row is the same for any N, any cut of the cohort into chunks, any chunk order,
any number of workers and any scheduler (Dask: tests/integration/test_dask.py); the final
Parquet files are written in fixed row groups, so they are byte-identical too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import seedsoil
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.interfaces import store
from seedsoil.interfaces.api import SUMMARY_COLUMNS, simulate_tables
from seedsoil.interfaces.execution import Chunk, plan_chunks
from seedsoil.scenario import load_scenario
from seedsoil.scenario.model import with_ctc_draw_days

PARQUETS = ("patients.parquet", "lesions.parquet", "ctc_draws.parquet", "funnel.parquet")
SAVE_PATIENTS = 80
SAVE_SEED = 11
CHUNK_SEED = 20261121
N = 2 * BLOCK_PATIENTS + 500  # three blocks, the last one partly kept
CUTS = (0, 100, 1500, N)  # chunk bounds that are not block bounds: cut anywhere, same rows
DRAW_DAYS = (0.0, 200.0, 1000.0)
RUN_PATIENTS = BLOCK_PATIENTS + 700  # two blocks for the run-folder comparisons


@pytest.fixture(scope="module")
def default_scenario():
    """The default scenario with three blood draws, so that the draws are compared too."""
    sc, p = load_scenario("default")
    return with_ctc_draw_days(sc, DRAW_DAYS), p


def _tables(scenario, params, chunks, seed=CHUNK_SEED, workers=1, engine="fast"):
    """(patients, lesions) as pandas in the order simulate_tables returns them, the funnel and the blood draws."""
    pat, les, draws, funnel = simulate_tables(scenario, params, list(chunks), seed, engine, workers=workers)
    assert isinstance(pat, pa.Table) and isinstance(les, pa.Table) and isinstance(funnel, np.ndarray)
    return pat.to_pandas(), les.to_pandas(), funnel, draws.to_pandas()


def _by_patient(df: pd.DataFrame) -> pd.DataFrame:
    # Stable sort on the patient only: within one patient, lesions keep the clinic's own order,
    # which must not depend on how the cohort was split.
    return df.sort_values("patient_id", kind="stable").reset_index(drop=True)


def _of(df: pd.DataFrame, ids) -> pd.DataFrame:
    return df[df["patient_id"].isin(list(ids))].reset_index(drop=True)


def _assert_same(got, want, what=""):
    (gp, gl, gf, gd), (wp, wl, wf, wd) = got, want
    assert_frame_equal(gp, wp, check_exact=True, obj=f"patients {what}")
    assert_frame_equal(gl, wl, check_exact=True, obj=f"lesions {what}")
    assert_frame_equal(gd, wd, check_exact=True, obj=f"ctc_draws {what}")
    assert gf.dtype == wf.dtype
    np.testing.assert_array_equal(gf, wf, err_msg=f"funnel {what}")


@pytest.fixture(scope="module")
def whole(default_scenario):
    """N patients in one chunk, one process."""
    return _tables(*default_scenario, plan_chunks(N))


# ----- chunking, order, workers -----------------------------------------------------------------

def test_whole_is_one_chunk_of_every_patient(whole):
    pat, les, funnel, _ = whole
    assert len(plan_chunks(N)) == 1
    assert list(pat["patient_id"]) == list(range(N))
    assert len(les) > 100 and funnel.sum() > 0  # otherwise the comparisons below mean little
    assert les["patient_id"].is_monotonic_increasing


@pytest.mark.parametrize("chunk_patients", [BLOCK_PATIENTS, 2 * BLOCK_PATIENTS])
def test_block_chunks_equal_one_pass(default_scenario, whole, chunk_patients):
    chunks = plan_chunks(N, chunk_patients)
    assert len(chunks) == -(-N // chunk_patients) > 1
    _assert_same(_tables(*default_scenario, chunks), whole, f"chunk_patients={chunk_patients}")


def test_chunks_cut_anywhere_equal_one_pass(default_scenario, whole):
    """Chunks that start and end inside a block keep the rows of the full block."""
    chunks = [Chunk(i, a, b) for i, (a, b) in enumerate(zip(CUTS, CUTS[1:]))]
    _assert_same(_tables(*default_scenario, chunks), whole, "cut inside blocks")


def test_reversed_order_equals_one_pass(default_scenario, whole):
    """Chunks given (and simulated) last first: the same rows once put back in patient order."""
    chunks = list(reversed([Chunk(i, a, b) for i, (a, b) in enumerate(zip(CUTS, CUTS[1:]))]))
    pat, les, funnel, draws = _tables(*default_scenario, chunks)
    firsts = pat["patient_id"].iloc[[0, N - CUTS[-2]]].tolist()
    assert firsts == [CUTS[-2], CUTS[-3]]  # really handed back last chunk first
    _assert_same((_by_patient(pat), _by_patient(les), funnel, _by_patient(draws)), whole, "reversed chunks")


def test_worker_count_does_not_change_simulate_tables(default_scenario, whole):
    """Two processes share three chunks (finishing in any order); the tables must not change."""
    _assert_same(_tables(*default_scenario, plan_chunks(N, BLOCK_PATIENTS), workers=2), whole, "workers=2")


def test_worker_count_and_chunk_size_do_not_change_simulate():
    """simulate(..., workers=K, chunk_patients=C): the Result's tables do not depend on K or C."""
    one = seedsoil.simulate("default", patients=N, seed=SAVE_SEED, workers=1)
    two = seedsoil.simulate("default", patients=N, seed=SAVE_SEED, workers=2, chunk_patients=BLOCK_PATIENTS)
    for name in ("patients", "lesions", "funnel"):
        assert_frame_equal(getattr(one, name), getattr(two, name), check_exact=True, obj=name)


# ----- one patient, cohort size -----------------------------------------------------------------

def test_one_patient_alone_equals_her_row_in_the_cohort(default_scenario, whole):
    pat, les, _, draws = whole
    # the patient with the most lesions, outside block 0: the strongest test of the block streams
    counts = les.loc[les["patient_id"] >= BLOCK_PATIENTS, "patient_id"].value_counts()
    pid = int(counts.index[0])
    assert counts.iloc[0] >= 2
    alone_p, alone_l, _, alone_d = _tables(*default_scenario, [Chunk(0, pid, pid + 1)])
    assert list(alone_p["patient_id"]) == [pid]
    assert_frame_equal(alone_p, _of(pat, [pid]), check_exact=True)
    assert_frame_equal(alone_l, _of(les, [pid]), check_exact=True)
    assert_frame_equal(alone_d, _of(draws, [pid]), check_exact=True)


@pytest.mark.parametrize("n", [1, 100, BLOCK_PATIENTS, BLOCK_PATIENTS + 1])
def test_patient_rows_do_not_depend_on_the_cohort_size(whole, n):
    """A run of n patients keeps the first n of whole blocks: her row is the same for any N (and
    without the blood draws of ``whole``: they come last in the clinic's stream)."""
    pat, les, _, draws = whole
    r = seedsoil.simulate("default", patients=n, seed=CHUNK_SEED, engine="fast", workers=1)
    assert_frame_equal(r.patients, _of(pat, range(n)), check_exact=True)
    assert_frame_equal(r.lesions, _of(les, range(n)), check_exact=True)
    assert r.funnel["count"].sum() <= int(whole[2].sum())


def test_reference_engine_patient_alone_equals_her_row():
    """The per-cell engine skips the other patients of a block; her history must not change."""
    sc, p = load_scenario("small")
    pat, les, _, _ = _tables(sc, p, [Chunk(0, 0, 8)], engine="reference")
    pid = 5
    alone_p, alone_l, _, _ = _tables(sc, p, [Chunk(0, pid, pid + 1)], engine="reference")
    assert_frame_equal(alone_p, _of(pat, [pid]), check_exact=True)
    assert_frame_equal(alone_l, _of(les, [pid]), check_exact=True)


# ----- seeds and blocks differ ------------------------------------------------------------------

def test_different_seed_gives_different_results(default_scenario, whole):
    pat, _, _, _ = whole
    chunks = [Chunk(0, 0, BLOCK_PATIENTS)]
    other_p, _, other_f, _ = _tables(*default_scenario, chunks, seed=CHUNK_SEED + 1)
    mine_p, _, mine_f, _ = _tables(*default_scenario, chunks)
    assert_frame_equal(mine_p, _of(pat, range(BLOCK_PATIENTS)), check_exact=True)
    for col in ("age_at_diagnosis", "tumor_size_mm", "tmem_score"):
        same = np.isclose(mine_p[col].to_numpy(float), other_p[col].to_numpy(float))
        assert same.mean() < 0.05, f"{col}: {same.sum()} of {BLOCK_PATIENTS} patients unchanged by a new seed"
    assert not np.array_equal(other_f, mine_f)


def test_blocks_draw_from_different_streams(whole):
    """Block 1 is not a copy of block 0 (the block is part of the stream key)."""
    pat, _, _, _ = whole
    a = pat.iloc[:BLOCK_PATIENTS]
    b = pat.iloc[BLOCK_PATIENTS:2 * BLOCK_PATIENTS]
    for col in ("age_at_diagnosis", "tumor_size_mm"):
        same = np.isclose(a[col].to_numpy(float), b[col].to_numpy(float))
        assert same.mean() < 0.05, col


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"patients": 10.0}, "patients"), ({"patients": True}, "patients"), ({"patients": "10"}, "patients"),
    ({"seed": 1.0}, "seed"), ({"seed": False}, "seed"), ({"patients": 0}, "patients"), ({"seed": -1}, "seed"),
])
def test_patients_and_seed_must_be_whole_numbers(kwargs, name):
    """A float or bool seed would silently name another stream: refused, naming the argument."""
    args = {"patients": 10, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=name):
        seedsoil.simulate("default", **args, workers=1)


@pytest.mark.parametrize("chunk_patients", [1000, BLOCK_PATIENTS + 1, -BLOCK_PATIENTS])
def test_chunk_size_must_be_whole_blocks(chunk_patients):
    with pytest.raises(ValueError, match=str(BLOCK_PATIENTS)):
        plan_chunks(5000, chunk_patients)
    with pytest.raises(ValueError, match=str(BLOCK_PATIENTS)):
        seedsoil.simulate("default", patients=10, seed=1, workers=1, chunk_patients=chunk_patients)


# ----- byte-identical files ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_twice(tmp_path_factory):
    """Two independent simulate(...).save(dir) calls with the same scenario and seed."""
    folders = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"run{k}")
        seedsoil.simulate("default", patients=SAVE_PATIENTS, seed=SAVE_SEED, workers=1).save(out)
        folders.append(out)
    return folders


@pytest.mark.parametrize("name", PARQUETS)
def test_same_seed_gives_byte_identical_parquet(saved_twice, name):
    a, b = saved_twice
    data_a, data_b = (a / name).read_bytes(), (b / name).read_bytes()
    assert data_a, f"{name} is empty"
    assert data_a == data_b, f"{name} differs between two runs with the same scenario and seed"


def test_manifests_record_the_same_checksums(saved_twice):
    a, b = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in saved_twice)
    assert a["sha256"] == b["sha256"]
    assert set(a["sha256"]) == set(PARQUETS)
    assert a["parameter_hash"] == b["parameter_hash"]
    assert a["seed"] == b["seed"] == SAVE_SEED
    assert a["run"] == b["run"] and a["run"]["seed"] == SAVE_SEED


def test_byte_identical_in_a_fresh_process_with_another_hash_seed(saved_twice, tmp_path):
    """Nothing may depend on Python's per-process string hashing (set/dict iteration order)."""
    out = tmp_path / "fresh"
    code = textwrap.dedent(f"""
        import seedsoil
        seedsoil.simulate("default", patients={SAVE_PATIENTS}, seed={SAVE_SEED}, workers=1).save({str(out)!r})
    """)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    for name in PARQUETS:
        assert (out / name).read_bytes() == (saved_twice[0] / name).read_bytes(), name


RUNS = {  # name -> seedsoil.run options; all the same cohort
    "chunks-1024-serial": {"chunk_patients": BLOCK_PATIENTS, "workers": 1},
    "chunks-2048-serial": {"chunk_patients": 2 * BLOCK_PATIENTS, "workers": 1},
    "chunks-1024-two-workers": {"chunk_patients": BLOCK_PATIENTS, "workers": 2},
    "default-chunks": {"workers": 1},
}


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    """The same cohort streamed by seedsoil.run with different chunk sizes and worker counts,
    and saved from memory by simulate(...).save."""
    base = tmp_path_factory.mktemp("runs")
    folders = {}
    for name, opts in RUNS.items():
        seedsoil.run("default", base / name, patients=RUN_PATIENTS, seed=SAVE_SEED, **opts)
        folders[name] = base / name
    seedsoil.simulate("default", patients=RUN_PATIENTS, seed=SAVE_SEED, workers=1).save(base / "saved")
    folders["saved"] = base / "saved"
    return folders


def test_run_gives_byte_identical_parquet_for_any_chunking_and_workers(run_folders):
    """One test on purpose: the fixture's five runs are then made on one xdist worker only."""
    reference = {name: (run_folders["chunks-1024-serial"] / name).read_bytes() for name in PARQUETS}
    assert all(data[:4] == b"PAR1" for data in reference.values())
    for label, folder in run_folders.items():
        for name in PARQUETS:
            assert (folder / name).read_bytes() == reference[name], f"{name}: {label} differs from chunks-1024-serial"
        assert not (folder / store.WORK_DIR).exists(), label

    manifests = {k: json.loads((d / "manifest.json").read_text(encoding="utf-8")) for k, d in run_folders.items()}
    ref = manifests["chunks-1024-serial"]
    assert ref["run"]["chunk_patients"] == BLOCK_PATIENTS
    assert manifests["chunks-2048-serial"]["run"]["chunk_patients"] == 2 * BLOCK_PATIENTS
    for label, m in manifests.items():
        assert m["sha256"] == ref["sha256"], label
        assert m["patients"] == RUN_PATIENTS and m["seed"] == SAVE_SEED, label
        assert m["run"]["patients"] == RUN_PATIENTS and m["run"]["seed"] == SAVE_SEED, label
        assert {k: v for k, v in m["run"].items() if k != "chunk_patients"} == \
               {k: v for k, v in ref["run"].items() if k != "chunk_patients"}, label


def test_run_returns_the_summary_columns_of_simulate(tmp_path):
    """seedsoil.run hands back only the summary columns of the patients; they are simulate's rows,
    and a second run with --resume of the finished folder only reads them back."""
    n = 300
    light = seedsoil.run("default", tmp_path / "o", patients=n, seed=SAVE_SEED, workers=1)
    fresh = seedsoil.simulate("default", patients=n, seed=SAVE_SEED, workers=1)
    again = seedsoil.run("default", tmp_path / "o", patients=n, seed=SAVE_SEED, workers=1, resume=True)
    for r in (light, again):
        assert tuple(r.patients.columns) == SUMMARY_COLUMNS
        got = r.patients.astype({c: object for c in r.patients.columns
                                 if isinstance(r.patients[c].dtype, pd.CategoricalDtype)})
        assert_frame_equal(got, fresh.patients[list(SUMMARY_COLUMNS)], check_exact=True)
        assert_frame_equal(r.funnel, fresh.funnel, check_exact=True)


def test_row_groups_are_fixed_whatever_the_chunking(tmp_path, monkeypatch):
    """With a small ROW_GROUP_ROWS the files hold several row groups, cut at the same rows
    whatever the chunk size: the property byte-identical files rest on."""
    rows = 1000
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", rows)
    data = {}
    for chunk in (BLOCK_PATIENTS, 2 * BLOCK_PATIENTS):
        out = tmp_path / f"c{chunk}"
        seedsoil.run("default", out, patients=RUN_PATIENTS, seed=SAVE_SEED, chunk_patients=chunk, workers=1)
        meta = pq.ParquetFile(out / "patients.parquet").metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sizes == [rows] * (RUN_PATIENTS // rows) + [RUN_PATIENTS % rows], (chunk, sizes)
        data[chunk] = {name: (out / name).read_bytes() for name in PARQUETS}
    assert data[BLOCK_PATIENTS] == data[2 * BLOCK_PATIENTS]
