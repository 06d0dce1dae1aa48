"""Result folders: round trip, byte-identical Parquet, no damage from a failed save or run, schema types.

The writer is interfaces/store.py: every file goes to a temporary name and is renamed into
place, the tables in fixed row groups (``ROW_GROUP_ROWS``) with pinned settings
(``PARQUET_OPTIONS``), manifest.json last. Failures are injected at its seams:
``store.write_parquet`` (the tables) and ``plots.write_figure`` (the figures).
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import seedsoil
from seedsoil.interfaces import plots, store
from seedsoil.interfaces.results import TABLE_SCHEMAS, Result, to_arrow
from seedsoil.interfaces.schema import arrow_schema
from seedsoil.interfaces.store import RunFolderError
from seedsoil.interfaces.summary import print_summary
from seedsoil.scenario import load_scenario

PARQUETS = ("patients.parquet", "lesions.parquet", "ctc_draws.parquet", "funnel.parquet")
FIGURES = ("km_dmfs.png", "km_os.png", "sites.png", "funnel.png")
MANIFEST = "manifest.json"
RUN_PATIENTS = 2100  # three chunks of 1024
RUN_SEED = 4

# docs/schema.md, column -> Arrow type, written out independently of the implementation.
SCHEMA_MD = {
    "patients": {
        "patient_id": "int64", "subtype": "string", "histology": "string", "er": "bool", "pr": "bool",
        "her2": "bool", "age_at_diagnosis": "double", "tumor_size_mm": "double", "grade": "int64",
        "menopausal": "string", "tmem_score": "double", "positive_nodes": "int64", "nodes_examined": "int64", "pT": "string",
        "pN": "string", "M": "string", "stage": "string", "surgery": "string", "endocrine": "bool",
        "endocrine_years": "double", "chemotherapy": "bool", "anti_her2": "bool", "her2_tki": "bool",
        "bone_agent": "bool", "radiotherapy": "bool", "dfs_days": "double", "dmfs_days": "double",
        "os_days": "double", "dfs_event": "bool", "dmfs_event": "bool", "os_event": "bool",
        "death_cause": "string", "first_metastasis_sites": "string", "metastasis_sites": "string",
        "local_recurrence_day": "double", "regional_recurrence_day": "double", "distant_metastasis_day": "double",
        "metastatic_lines": "int64", "n_colonies": "int64", "n_secondary_colonies": "int64", "ctc_7_5ml": "int64",
        "dtc_bone_marrow": "int64", "ctc_at_relapse_7_5ml": "double",
        "metastatic_bone_agent": "string", "skeletal_event_day": "double", "skeletal_event": "string",
        "symptoms": "string",
    },
    "lesions": {"patient_id": "int64", "organ": "string", "detection_day": "double", "size_mm": "double",
                "clone": "string", "founded_day": "double", "origin": "string", "symptoms": "string"},
    "ctc_draws": {"patient_id": "int64", "day": "double", "ctc_7_5ml": "int64", "expected_ctc": "double"},
    "funnel": {"stage": "string", "organ": "string", "count": "int64"},
}


def make_result(tables, seed: int = 20261121) -> Result:
    scenario, params = load_scenario("default")
    return Result(scenario=scenario, params=params, seed=seed, engine="fast",
                  timings={"simulate": 1.5, "clinic": 0.25}, **tables)


def files(folder) -> dict[str, bytes]:
    """Every entry of ``folder`` (plain files by content; folders, e.g. the work folder, as b'<dir>')."""
    return {p.name: (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(folder.iterdir())}


def no_temporaries(folder) -> bool:
    return not [p for p in folder.rglob(f"{store.TMP_PREFIX}*")]


def fail_on_call(real, number: int, error: BaseException):
    """``real`` wrapped to raise ``error`` on its ``number``-th call (1-based); records the calls."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(args)
        if len(calls) == number:
            raise error
        return real(*args, **kwargs)

    wrapper.calls = calls
    return wrapper


# ----- round trip -------------------------------------------------------------------------------

def test_save_load_round_trip(synthetic_tables, tmp_path):
    res = make_result(synthetic_tables)
    out = res.save(tmp_path / "run")
    names = {p.name for p in out.iterdir()}
    assert names == set(PARQUETS) | set(FIGURES) | {MANIFEST}  # no work folder, no temporaries

    back = Result.load(out)
    for name in ("patients", "lesions", "funnel"):
        pd.testing.assert_frame_equal(getattr(back, name), synthetic_tables[name], check_dtype=True)
    assert back.seed == res.seed and back.engine == "fast"
    assert back.scenario == res.scenario
    assert back.params.digest() == res.params.digest()
    assert back.timings == res.timings

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["patients"] == len(synthetic_tables["patients"])
    assert manifest["parameter_hash"] == res.params.digest()
    assert manifest["scenario_name"] == "default"
    assert manifest["scenario"]["cohort"]["follow_up_years"] == 10
    assert set(manifest["files"]) == names
    assert set(manifest["sha256"]) == set(PARQUETS)
    assert {"seedsoil_version", "python", "numpy", "timings", "seed", "engine", "run"} <= set(manifest)
    run = manifest["run"]
    assert (run["seed"], run["engine"], run["patients"]) == (res.seed, "fast", len(synthetic_tables["patients"]))
    assert run["parameter_hash"] == res.params.digest()


def test_save_over_an_earlier_result_replaces_it(synthetic_tables, tmp_path):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    smaller = dict(synthetic_tables, patients=synthetic_tables["patients"].head(10))
    make_result(smaller, seed=1).save(out)  # overwrite=True is the default of save
    back = Result.load(out)
    assert len(back.patients) == 10 and back.seed == 1
    assert {p.name for p in out.iterdir()} == set(PARQUETS) | set(FIGURES) | {MANIFEST}


def test_save_without_overwrite_refuses_another_run(synthetic_tables, tmp_path):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    before = files(out)
    with pytest.raises(RunFolderError, match="overwrite"):
        make_result(synthetic_tables, seed=1).save(out, overwrite=False)
    assert issubclass(RunFolderError, ValueError)
    assert files(out) == before


def test_load_of_a_folder_without_a_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        Result.load(tmp_path)


def test_run_folder_loads_as_a_full_result(tmp_path):
    """seedsoil.run returns only summary columns; Result.load reads the whole tables back."""
    out = tmp_path / "run"
    light = seedsoil.run("default", out, patients=300, seed=RUN_SEED, workers=1)
    full = Result.load(out)
    fresh = seedsoil.simulate("default", patients=300, seed=RUN_SEED, workers=1)
    assert len(light.patients.columns) < len(full.patients.columns)
    for name in ("patients", "lesions", "funnel"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(fresh, name), check_exact=True, obj=name)


# ----- byte-identical files ---------------------------------------------------------------------

def test_same_tables_give_byte_identical_parquet(synthetic_tables, tmp_path):
    a = make_result(synthetic_tables).save(tmp_path / "a")
    b = make_result({k: v.copy() for k, v in synthetic_tables.items()}).save(tmp_path / "b")
    for name in PARQUETS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("row_group_rows", [None, 64])
def test_parquet_bytes_do_not_depend_on_how_rows_arrive(synthetic_tables, tmp_path, monkeypatch, row_group_rows):
    """write_parquet cuts fixed row groups from pieces of any size: one piece or many, same bytes."""
    if row_group_rows is not None:
        monkeypatch.setattr(store, "ROW_GROUP_ROWS", row_group_rows)
    table = to_arrow(synthetic_tables["patients"], "patients")
    n = table.num_rows
    cuts = [(0, n)], [(0, 1), (1, 70), (70, 71), (71, 150), (150, n)], [(a, min(a + 7, n)) for a in range(0, n, 7)]
    data = []
    for k, pieces in enumerate(cuts):
        path = tmp_path / f"p{k}.parquet"
        store.write_parquet(path, "patients", [table.slice(a, b - a) for a, b in pieces])
        data.append(path.read_bytes())
        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        step = row_group_rows or store.ROW_GROUP_ROWS
        assert sizes == [step] * (n // step) + ([n % step] if n % step else []), sizes
    assert data[0] == data[1] == data[2]
    assert pq.read_table(tmp_path / "p2.parquet").equals(table)


def test_parquet_writer_settings_are_pinned(synthetic_tables, tmp_path):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    assert store.PARQUET_OPTIONS["compression"] == "zstd"
    for name in ("patients", "lesions", "ctc_draws", "funnel"):
        f = pq.ParquetFile(out / f"{name}.parquet")
        assert f.metadata.format_version == store.PARQUET_OPTIONS["version"], name
        assert f.metadata.num_row_groups == 1, name
        assert f.metadata.row_group(0).column(0).compression == "ZSTD", name
        meta = f.schema_arrow.metadata
        assert meta[b"seedsoil.table"] == name.encode()
        assert meta[b"seedsoil.format_version"] == str(store.FORMAT_VERSION).encode()


# ----- failures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_failed_table_write_keeps_earlier_files(synthetic_tables, tmp_path, monkeypatch, failing_call):
    """A save failing at the n-th table (patients, lesions, ctc_draws, funnel): the tables not yet written and
    every figure keep their bytes, the earlier manifest is gone (it would claim files the folder no
    longer holds together), no temporary is left, and the folder does not load as a result."""
    out = make_result(synthetic_tables).save(tmp_path / "run")
    before = files(out)
    order = ["patients", "lesions", "ctc_draws", "funnel"]

    smaller = {k: v.head(10) if k == "patients" else v for k, v in synthetic_tables.items()}
    flaky = fail_on_call(store.write_parquet, failing_call, OSError(28, "No space left on device"))
    monkeypatch.setattr(store, "write_parquet", flaky)
    with pytest.raises(OSError, match="No space"):
        make_result(smaller, seed=1).save(out)
    assert [str(c[1]) for c in flaky.calls] == order[:failing_call]

    after = files(out)
    assert MANIFEST not in after, "a manifest claims a run whose files the folder does not hold"
    untouched = [f"{t}.parquet" for t in order[failing_call - 1:]] + list(FIGURES)
    for name in untouched:
        assert after[name] == before[name], f"{name} was changed by a failed save"
    if failing_call > 1:  # patients was replaced whole, never half-written
        assert pq.read_table(out / "patients.parquet").num_rows == 10
    assert no_temporaries(out)
    with pytest.raises(FileNotFoundError, match="manifest"):
        Result.load(out)

    monkeypatch.undo()  # the next save succeeds and leaves a finished result
    make_result(smaller, seed=1).save(out)
    assert len(Result.load(out).patients) == 10
    assert {p.name for p in out.iterdir()} == set(PARQUETS) | set(FIGURES) | {MANIFEST}


def test_failed_figure_leaves_no_manifest(synthetic_tables, tmp_path, monkeypatch):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    before = files(out)
    flaky = fail_on_call(plots.write_figure, 2, OSError(5, "Input/output error"))
    monkeypatch.setattr(plots, "write_figure", flaky)
    with pytest.raises(OSError, match="Input/output"):
        make_result(synthetic_tables, seed=1).save(out)
    after = files(out)
    assert MANIFEST not in after
    assert len(flaky.calls) == 2
    drawn = {p.name for (_, p) in flaky.calls[:1]}
    for name in set(FIGURES) - drawn:
        assert after[name] == before[name], name
    assert no_temporaries(out)
    with pytest.raises(FileNotFoundError):
        Result.load(out)


def test_failed_save_into_a_new_folder_leaves_no_manifest(synthetic_tables, tmp_path, monkeypatch):
    out = tmp_path / "new"
    monkeypatch.setattr(store, "write_parquet", fail_on_call(store.write_parquet, 2, OSError(28, "No space")))
    with pytest.raises(OSError):
        make_result(synthetic_tables).save(out)
    assert not (out / MANIFEST).exists()
    assert not (out / "lesions.parquet").exists()
    assert no_temporaries(out)


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


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    seedsoil.run("default", out, patients=RUN_PATIENTS, seed=RUN_SEED, workers=1, chunk_patients=1024)
    return {name: (out / name).read_bytes() for name in PARQUETS}


@pytest.mark.parametrize("seam", ["merge", "figure"])
def test_failed_run_keeps_its_parts_and_resumes_to_identical_files(tmp_path, monkeypatch, uninterrupted_run, seam):
    """seedsoil.run failing while it merges the parts or draws the figures: no manifest, the
    finished chunks kept for --resume, and the resumed run writes the files of an uninterrupted run."""
    out = tmp_path / "run"
    opts = dict(patients=RUN_PATIENTS, seed=RUN_SEED, workers=1, chunk_patients=1024)
    if seam == "merge":
        monkeypatch.setattr(store, "write_parquet", fail_on_call(store.write_parquet, 2, OSError(28, "No space")))
    else:
        monkeypatch.setattr(plots, "write_figure", fail_on_call(plots.write_figure, 1, OSError(28, "No space")))
    with pytest.raises(OSError, match="No space"):
        seedsoil.run("default", out, **opts)
    assert not (out / MANIFEST).exists()
    assert (out / store.WORK_DIR).is_dir()
    assert len(list((out / store.WORK_DIR).glob("funnel-*.json"))) == 3  # every chunk was stored
    assert no_temporaries(out)
    with pytest.raises(RunFolderError, match="resume"):
        seedsoil.run("default", out, **opts)  # neither --resume nor --overwrite: refused

    monkeypatch.undo()
    seedsoil.run("default", out, **opts, resume=True)
    assert {p.name for p in out.iterdir()} == set(PARQUETS) | set(FIGURES) | {MANIFEST}
    for name in PARQUETS:
        assert (out / name).read_bytes() == uninterrupted_run[name], name
    assert json.loads((out / MANIFEST).read_text())["run"]["patients"] == RUN_PATIENTS


# ----- types, summary, figures ------------------------------------------------------------------

def test_parquet_types_match_schema_md(synthetic_tables, tmp_path):
    out = make_result(synthetic_tables).save(tmp_path / "run")
    for name, expected in SCHEMA_MD.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert schema.names == list(expected), name
        assert {f.name: str(f.type) for f in schema} == expected, name
        assert TABLE_SCHEMAS[name].names == list(expected)
        assert TABLE_SCHEMAS[name].equals(arrow_schema(name))


def test_nan_in_float_column_round_trips(synthetic_tables, tmp_path):
    p = synthetic_tables["patients"]
    assert p["regional_recurrence_day"].isna().any()
    back = Result.load(make_result(synthetic_tables).save(tmp_path / "run"))
    assert back.patients["regional_recurrence_day"].isna().sum() == p["regional_recurrence_day"].isna().sum()


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


def test_summary_of_a_streamed_run_prints(tmp_path):
    """The light Result of seedsoil.run (summary columns, categories) feeds the same summary."""
    light = seedsoil.run("default", tmp_path / "run", patients=300, seed=RUN_SEED, workers=1)
    full = Result.load(tmp_path / "run")
    assert light.summary() == full.summary()
    console = Console(record=True, width=160)
    print_summary(light, console)
    assert "300" in console.export_text()


def test_plots_return_figures(synthetic_tables):
    res = make_result(synthetic_tables)
    for fig in (res.plot_km("os"), res.plot_km("dmfs"), res.plot_km("dfs"), res.plot_sites(), res.plot_funnel()):
        assert fig.axes and fig.axes[0].get_title()
    with pytest.raises(ValueError, match="endpoint"):
        res.plot_km("pfs")
