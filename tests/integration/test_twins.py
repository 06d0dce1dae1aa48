"""Virtual twins (issue 11, part 1): rows of observed patients simulated conditioned on what was
seen at diagnosis. Checked: every twin has the observed size, node count and covariates; the
rejection sampler agrees with the forward model (a row's acceptance is the share of unconditioned
patients of that size with that node count); more positive nodes raise the simulated distant
relapse (the node count carries the biology that made it); follow-up and therapies from the row;
same seed, same twins; bad tables get one clear error naming the row and the column."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.interfaces.twins import TwinsMatchError, simulate_twins
from seedsoil.interfaces.twins_input import TwinsInputError, read_twins
from seedsoil.scenario import load_scenario

SEED = 7
ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]


@pytest.fixture(scope="module")
def model():
    return load_scenario("default")


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype(str).replace("nan", "")


BASE = {"tumor_size_mm": 25, "age": 60, "menopausal": "post", "grade": 2, "er": 1, "pr": 1, "her2": 0,
        "histology": "idc", "endocrine_therapy": 1, "chemotherapy": 1, "radiotherapy": 1, "follow_up_days": 3650}


@pytest.fixture(scope="module")
def node_contrast(model):
    """150 twins of two rows that differ only by their positive nodes (0 vs 6)."""
    sc, p = model
    df = _table([{**BASE, "positive_nodes": 0}, {**BASE, "positive_nodes": 6}])
    return simulate_twins(read_twins(df, sc, p), sc, p, replicates=150, seed=SEED)


def test_every_twin_has_what_was_observed(node_contrast):
    t = node_contrast.patients
    assert len(t) == 300 and sorted(t["row_id"].unique()) == [0, 1]
    assert (t.groupby("row_id")["replicate"].apply(lambda s: sorted(s) == list(range(150)))).all()
    assert np.allclose(t["tumor_size_mm"], 25.0) and np.allclose(t["age_at_diagnosis"], 60.0)
    assert (t["positive_nodes"] == np.where(t["row_id"] == 0, 0, 6)).all()
    assert t["er"].all() and t["pr"].all() and not t["her2"].any() and (t["grade"] == 2).all()
    assert (t["histology"] == "idc").all() and (t["menopausal"] == "post").all()
    assert set(t["subtype"]) <= {"luminal_a", "luminal_b"}  # ER+ HER2-
    m0 = t["M"] == "M0"
    assert (t.loc[m0, "endocrine"] & t.loc[m0, "chemotherapy"] & t.loc[m0, "radiotherapy"]).all()
    assert (t["os_days"] <= 3650 + 1e-9).all() and np.allclose(t.loc[~t["os_event"], "os_days"], 3650)
    assert set(node_contrast.lesions["patient_id"]) <= set(t["patient_id"])


def test_more_positive_nodes_raise_distant_relapse(node_contrast):
    """The node count is the simulated spread of the tumour, whose invasiveness and growth also
    seed distant organs: 6 positive nodes must give clearly more distant relapse than 0 (two-
    proportion z > 3 at 150 twins each; the default model gives about 10% vs 40%)."""
    t = node_contrast.patients
    relapse = t["distant_metastasis_day"].notna().groupby(t["row_id"]).mean()
    p0, p6 = relapse[0], relapse[1]
    pooled = (p0 + p6) / 2
    z = (p6 - p0) / np.sqrt(2 * pooled * (1 - pooled) / 150)
    assert z > 3, (p0, p6)
    rows = node_contrast.rows.set_index("row_id")
    assert rows.loc[1, "acceptance"] < rows.loc[0, "acceptance"]  # 6 nodes at 25 mm are rarer


def test_acceptance_is_the_forward_models_node_distribution(model):
    """Rejection is exact: a row giving only size and node count is matched at the rate at which
    unconditioned default patients of about that size have that count (20,000 patients, sizes
    18-22 mm; tolerance 0.06, about 3 standard errors of the two estimates)."""
    sc, p = model
    run = seedsoil.simulate(sc, patients=20_000, seed=SEED).patients
    near = run[(run["tumor_size_mm"] > 18) & (run["tumor_size_mm"] < 22)]
    df = _table([{"tumor_size_mm": 20, "positive_nodes": k} for k in (0, 2)])
    tw = simulate_twins(read_twins(df, sc, p), sc, p, replicates=60, seed=SEED)
    acc = tw.rows.set_index("row_id")["acceptance"]
    for row, k in ((0, 0), (1, 2)):
        forward = float((near["positive_nodes"] == k).mean())
        assert abs(acc[row] - forward) < 0.06, (k, acc[row], forward)


def test_same_seed_same_twins_and_another_seed_others(model):
    sc, p = model
    df = _table([{"tumor_size_mm": 15, "positive_nodes": 1, "er": "pos", "her2": "neg"},
                 {"tumor_size_mm": 40, "positive_nodes": 0, "grade": 3}])
    t = read_twins(df, sc, p)
    a = simulate_twins(t, sc, p, replicates=5, seed=3).patients
    b = simulate_twins(t, sc, p, replicates=5, seed=3).patients
    c = simulate_twins(t, sc, p, replicates=5, seed=4).patients
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["os_days"], c["os_days"])


def test_unobserved_covariates_follow_the_cohort_model(model):
    """Left blank, receptors and subtype come from the cohort model given what was observed: an
    ER- HER2- row is triple-negative or HER2-enriched-without-HER2 in the model's proportions,
    never luminal; an all-blank row mixes every subtype."""
    sc, p = model
    df = _table([{"tumor_size_mm": 20, "positive_nodes": 0, "er": 0, "her2": 0},
                 {"tumor_size_mm": 20, "positive_nodes": 0}])
    t = simulate_twins(read_twins(df, sc, p), sc, p, replicates=80, seed=SEED).patients
    neg = t[t["row_id"] == 0]
    assert not neg["er"].any() and not neg["pr"].any() and not neg["her2"].any()
    assert set(neg["subtype"]) <= {"triple_negative", "her2"}
    assert t.loc[t["row_id"] == 1, "subtype"].nunique() >= 3


def test_bad_tables_name_the_row_and_column(model):
    sc, p = model
    cases = [
        ({"positive_nodes": [1]}, "missing required column tumor_size_mm"),
        ({"tumor_size_mm": ["big"], "positive_nodes": [1]}, "row 0 (line 2): column 'tumor_size_mm': 'big' is not a number"),
        ({"tumor_size_mm": [20, 20], "positive_nodes": [1, -2]}, "row 1 (line 3): column 'positive_nodes'"),
        ({"tumor_size_mm": [20], "positive_nodes": [21]}, "more positive nodes than a patient has"),
        ({"tumor_size_mm": [20], "positive_nodes": [1], "er": ["maybe"]}, "column 'er': 'maybe' is not yes or no"),
        ({"tumor_size_mm": [20], "positive_nodes": [1], "histology": ["mucinous"]}, "allowed idc, ilc"),
        ({"tumor_size_mm": [20], "positive_nodes": [1], "menopausal": ["peri"]}, "allowed pre or post"),
        ({"tumor_size_mm": [20], "positive_nodes": [2], "pn": ["pN0"]}, "pN0 does not fit 2 positive nodes"),
        ({"tumor_size_mm": [20], "positive_nodes": [""]}, "column 'positive_nodes' is empty"),
    ]
    for data, message in cases:
        with pytest.raises(TwinsInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_twins(pd.DataFrame(data).astype(str), sc, p)


def test_skip_bad_rows_keeps_the_rest_with_one_warning_each(model):
    sc, p = model
    warnings = []
    df = pd.DataFrame({"tumor_size_mm": ["20", "x", "30", "25"], "positive_nodes": ["0", "1", "-1", "2"],
                       "ward": ["a", "b", "c", "d"]})
    t = read_twins(df, sc, p, skip_bad_rows=True, warn=warnings.append)
    assert list(t.row_id) == [0, 3] and t.skipped == (1, 2)
    assert sum("skipping row" in w for w in warnings) == 2
    assert sum("ignoring column ward" in w for w in warnings) == 1
    assert sum("no follow_up_days for 2 rows" in w for w in warnings) == 1


def test_a_row_the_model_cannot_match_is_refused_or_skipped(model):
    sc, p = model
    df = _table([{"tumor_size_mm": 20, "positive_nodes": 0}, {"tumor_size_mm": 4, "positive_nodes": 20}])
    t = read_twins(df, sc, p)
    with pytest.raises(TwinsMatchError, match="row 1: 20 positive nodes with a 4 mm tumour"):
        simulate_twins(t, sc, p, replicates=2, seed=SEED, max_candidates=2000)
    warned = []
    r = simulate_twins(t, sc, p, replicates=2, seed=SEED, max_candidates=2000, skip_unmatched=True,
                       warn=warned.append)
    assert list(r.patients["row_id"].unique()) == [0] and r.summary["rows_unmatched"] == [1] and len(warned) == 1


def test_api_writes_every_file(tmp_path):
    df = pd.DataFrame({"tumor_size_mm": [18.0, 30.0], "positive_nodes": [0, 3], "follow_up_days": [1800, 2500]})
    r = seedsoil.twins(df, replicates=3, seed=SEED, out=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["km_twins.png", "lesions.parquet", "patients.parquet", "twins_rows.csv", "twins_summary.json"]
    back = pd.read_parquet(tmp_path / "patients.parquet")
    assert list(back.columns[:2]) == ["row_id", "replicate"] and len(back) == 6
    sm = json.loads((tmp_path / "twins_summary.json").read_text())
    assert set(sm["endpoints"]) == {"os", "dmfs", "dfs"} and sm["endpoints"]["os"]["n"] == 6
    assert sm["follow_up_days"]["from_table"] == 2
    assert r.rows["matched"].all()


def test_command_errors_are_one_line_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("tumor_size_mm,positive_nodes\n20,two\n")
    out = tmp_path / "out"
    res = subprocess.run([*ENTRY, "twins", str(bad), "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: ") and "row 0 (line 2)" in res.stderr
    assert not out.exists()
    good = tmp_path / "good.csv"
    good.write_text("tumor_size_mm,positive_nodes\n20,0\n")
    res = subprocess.run([*ENTRY, "twins", str(good), "--out", str(out), "-r", "2"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert len(pd.read_parquet(out / "patients.parquet")) == 2
