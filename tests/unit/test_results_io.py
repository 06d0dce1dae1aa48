"""Result folders: round trip, byte-identical Parquet, no damage from a failed save, schema types."""

from __future__ import annotations

import json
import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from seedsoil.interfaces import results as results_mod
from seedsoil.interfaces.results import TABLE_SCHEMAS, Result, print_summary, to_arrow
from seedsoil.scenario import load_scenario

PARQUETS = ("patients.parquet", "lesions.parquet", "funnel.parquet")
FIGURES = ("km_dmfs.png", "km_os.png", "sites.png", "funnel.png")

# docs/schema.md, column -> Arrow type, written out independently of the implementation.
SCHEMA_MD = {
    "patients": {
        "patient_id": "int64", "subtype": "string", "histology": "string", "er": "bool", "pr": "bool",
        "her2": "bool", "age_at_diagnosis": "double", "tumor_size_mm": "double", "grade": "int64",
        "tmem_score": "double", "positive_nodes": "int64", "nodes_examined": "int64", "pT": "string",
        "pN": "string", "M": "string", "stage": "string", "dfs_days": "double", "dmfs_days": "double",
        "os_days": "double", "dfs_event": "bool", "dmfs_event": "bool", "os_event": "bool",
        "death_cause": "string", "first_metastasis_sites": "string", "metastasis_sites": "string",
        "regional_recurrence_day": "double", "n_colonies": "int64", "ctc_7_5ml": "int64",
    },
    "lesions": {"patient_id": "int64", "organ": "string", "detection_day": "double", "size_mm": "double",
                "clone": "string", "founded_day": "double", "origin": "string"},
    "funnel": {"stage": "string", "organ": "string", "count": "int64"},
}


def make_result(tables, seed: int = 20261121) -> Result:
    scenario, params = load_scenario("default")
    return Result(scenario=scenario, params=params, seed=seed, engine="fast",
                  timings={"simulate": 1.5, "clinic": 0.25}, **tables)


def test_save_load_round_trip(synthetic_tables, tmp_path):
    res = make_result(synthetic_tables)
    out = res.save(tmp_path / "run")
    names = {p.name for p in out.iterdir()}
    assert names == set(PARQUETS) | set(FIGURES) | {"manifest.json"}

    back = Result.load(out)
    for name in ("patients", "lesions", "funnel"):
        pd.testing.assert_frame_equal(getattr(back, name), synthetic_tables[name], check_dtype=True)
    assert back.seed == res.seed and back.engine == "fast"
    assert back.scenario == res.scenario
    assert back.params.digest() == res.params.digest()
    assert back.timings == res.timings

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["patients"] == len(synthetic_tables["patients"])
    assert manifest["parameter_hash"] == res.params.digest()
    assert manifest["scenario_name"] == "default"
    assert manifest["scenario"]["cohort"]["follow_up_years"] == 10
    assert set(manifest["files"]) == names
    assert {"seedsoil_version", "python", "numpy", "timings", "seed", "engine"} <= set(manifest)


def test_same_tables_give_byte_identical_parquet(synthetic_tables, tmp_path):
    a = make_result(synthetic_tables).save(tmp_path / "a")
    b = make_result({k: v.copy() for k, v in synthetic_tables.items()}).save(tmp_path / "b")
    for name in PARQUETS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_failed_save_keeps_earlier_result(synthetic_tables, tmp_path, monkeypatch):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    smaller = {k: v.head(10) if k == "patients" else v for k, v in synthetic_tables.items()}
    real_write = results_mod._write_parquet
    calls = []

    def flaky(table, path):
        calls.append(path)
        if len(calls) == 2:  # patients is written, lesions fails
            raise OSError(28, "No space left on device")
        real_write(table, path)

    monkeypatch.setattr(results_mod, "_write_parquet", flaky)
    with pytest.raises(OSError, match="No space"):
        make_result(smaller, seed=1).save(out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # nothing replaced, no temporaries left behind


def test_parquet_types_match_schema_md(synthetic_tables, tmp_path):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    for name, expected in SCHEMA_MD.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert schema.names == list(expected), name
        assert {f.name: str(f.type) for f in schema} == expected, name
        assert TABLE_SCHEMAS[name].names == list(expected)
    meta = pq.ParquetFile(out / "patients.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_nan_in_float_column_round_trips(synthetic_tables, tmp_path):
    p = synthetic_tables["patients"]
    assert p["regional_recurrence_day"].isna().any()
    back = Result.load(make_result(synthetic_tables).save(tmp_path / "run"))
    assert back.patients["regional_recurrence_day"].isna().sum() == p["regional_recurrence_day"].isna().sum()


def test_bad_tables_are_rejected_before_writing(synthetic_tables, tmp_path):
    bad = dict(synthetic_tables, patients=synthetic_tables["patients"].drop(columns="grade"))
    with pytest.raises(ValueError, match="grade"):
        make_result(bad).save(tmp_path / "run")
    assert not (tmp_path / "run").exists()
    wrong = synthetic_tables["funnel"].assign(count=synthetic_tables["funnel"]["count"] + 0.5)
    with pytest.raises(ValueError, match="funnel.count"):
        to_arrow(wrong, "funnel")
    missing = synthetic_tables["funnel"].assign(stage=None)
    with pytest.raises(ValueError, match="missing value"):
        to_arrow(missing, "funnel")
    assert isinstance(to_arrow(synthetic_tables["funnel"], "funnel"), pa.Table)


def test_summary_and_printed_tables(synthetic_tables):
    res = make_result(synthetic_tables)
    s = res.summary()
    p = synthetic_tables["patients"]
    relapsed = int((p["metastasis_sites"] != "").sum())
    assert s["patients"] == len(p) and s["distant_relapses"] == relapsed
    assert s["site_share_of_relapsed"]["bone"] == pytest.approx(
        p.loc[p["metastasis_sites"] != "", "metastasis_sites"].str.split(";").map(lambda x: "bone" in x).mean())
    assert all(v["median_years"] is None or math.isfinite(v["median_years"])
               for v in s["median_os_after_distant_relapse_years"].values())
    json.dumps(s, allow_nan=False)

    console = Console(record=True, width=120)
    print_summary(res, console)
    text = console.export_text()
    assert "distant relapses" in text and "bone" in text and "luminal_a" in text


def test_plots_return_figures(synthetic_tables):
    res = make_result(synthetic_tables)
    for fig in (res.plot_km("os"), res.plot_km("dmfs"), res.plot_km("dfs"), res.plot_sites(), res.plot_funnel()):
        assert fig.axes and fig.axes[0].get_title()
    with pytest.raises(ValueError, match="endpoint"):
        res.plot_km("pfs")
