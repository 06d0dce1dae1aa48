"""Runs on a Dask distributed cluster (a LocalCluster on loopback) give byte-identical files to a
local run, and the in-memory API gives the same rows."""

from __future__ import annotations

import hashlib

import pytest

import seedsoil

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed", reason="dask[distributed] is a dependency of seedsoil")

PATIENTS = 3000
SEED = 5


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def _hashes(folder):
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest()
            for n in ("patients.parquet", "lesions.parquet", "funnel.parquet")}


def test_dask_run_equals_local_run(tmp_path, cluster):
    local = tmp_path / "local"
    dask = tmp_path / "dask"
    seedsoil.run("default", local, patients=PATIENTS, seed=SEED, workers=1, chunk_patients=2048)
    seedsoil.run("default", dask, patients=PATIENTS, seed=SEED, scheduler=cluster.scheduler_address,
                 chunk_patients=1024)
    assert _hashes(local) == _hashes(dask)


def test_dask_simulate_equals_serial(cluster):
    a = seedsoil.simulate("default", patients=1500, seed=SEED, workers=1).patients
    b = seedsoil.simulate("default", patients=1500, seed=SEED, scheduler=cluster.scheduler_address,
                          chunk_patients=1024).patients
    assert a.equals(b)
