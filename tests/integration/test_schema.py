"""Saved result files against docs/schema.md, and the cascade funnel's conservation invariants.

The expected columns and types are read from docs/schema.md itself, so the document and the
files cannot drift apart silently. The funnel counts units (a cluster counts once); the fast
engine draws nested binomial/multinomial counts, so no unit may be created between stages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import seedsoil
from seedsoil.biology.organs import ORGANS

SCHEMA_MD = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
PATIENTS = 400
SEED = 5
DOC_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
WHOLE_BODY = ("shed", "entered_lymph", "entered_blood", "survived_circulation")
NODES = "axillary_nodes"


# ----- docs/schema.md ---------------------------------------------------------------------------

def _sections(text: str) -> dict[str, str]:
    """'## name ...' heading -> body, keyed by the heading's first word."""
    parts = re.split(r"^## +", text, flags=re.M)[1:]
    return {p.split()[0]: p for p in parts}


def _doc_columns() -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, doc dtype)] in document order."""
    sections = _sections(SCHEMA_MD.read_text(encoding="utf-8"))
    out: dict[str, list[tuple[str, str]]] = {}
    cols = []
    for line in sections["patients"].splitlines():
        m = re.match(r"^\|\s*([^|]+?)\s*\|\s*(\w+)\s*\|", line)
        if m and m.group(1) != "column" and not set(m.group(1)) <= set("-: "):
            cols += [(name.strip(), m.group(2)) for name in m.group(1).split(",")]
    out["patients"] = cols
    for name in ("lesions", "ctc_draws", "funnel"):
        body = sections[name].split("\n", 1)[1]
        first_paragraph = body.strip().split("\n\n")[0].split("\n")[0]
        no_notes = re.sub(r"\([^)]*\)", "", first_paragraph)  # drop "(negative = before diagnosis)" etc.
        out[name] = re.findall(r"\b([A-Za-z_][A-Za-z_0-9]*) (int64|float64|str|bool)\b", no_notes)
    return out


def _doc_values(column: str) -> set[str]:
    """The allowed values a patients-table row of docs/schema.md lists for ``column``."""
    for line in SCHEMA_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] == column:
            values = re.sub(r"\s+\([^)]*\)", "", cells[2])  # "M1 (metastasis ...)" -> "M1"; keeps pN0(i+)
            return {v.strip() for v in values.replace(" or ", ",").split(",")}
    raise AssertionError(f"docs/schema.md has no row for {column}")


def _doc_stages() -> list[str]:
    text = SCHEMA_MD.read_text(encoding="utf-8")
    m = re.search(r"Stages in cascade order: ([^.]+)\.", text)
    assert m, "docs/schema.md no longer lists the stages in cascade order"
    return [s.strip() for s in m.group(1).split(",")]


DOC = _doc_columns()
STAGES = _doc_stages()


def test_doc_parsing_found_every_table():
    assert len(DOC["patients"]) == 47
    assert [c for c, _ in DOC["lesions"]] == ["patient_id", "organ", "detection_day", "size_mm", "clone",
                                               "founded_day", "origin", "symptoms"]
    assert [c for c, _ in DOC["ctc_draws"]] == ["patient_id", "day", "ctc_7_5ml", "expected_ctc"]
    assert [c for c, _ in DOC["funnel"]] == ["stage", "organ", "count"]
    assert STAGES[0] == "shed" and STAGES[-1] == "detected" and len(STAGES) == 10


# ----- the saved files --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["save", "run"])
def run_dir(request, tmp_path_factory) -> Path:
    """The folder of simulate(...).save(...) and that of the streamed seedsoil.run (part files merged)."""
    out = tmp_path_factory.mktemp(f"schema-{request.param}")
    if request.param == "save":
        seedsoil.simulate("default", patients=PATIENTS, seed=SEED, workers=1).save(out)
    else:
        seedsoil.run("default", out, patients=PATIENTS, seed=SEED, workers=1)
    return out


@pytest.fixture(scope="module")
def tables(run_dir) -> dict[str, pd.DataFrame]:
    return {name: pq.read_table(run_dir / f"{name}.parquet").to_pandas() for name in DOC}


@pytest.mark.parametrize("name", sorted(DOC))
def test_parquet_columns_and_types_match_the_doc(run_dir, name):
    schema = pq.read_schema(run_dir / f"{name}.parquet")
    expected = DOC[name]
    assert schema.names == [c for c, _ in expected]
    for column, doc_type in expected:
        assert schema.field(column).type == DOC_TYPES[doc_type], (name, column, schema.field(column).type, doc_type)


@pytest.mark.parametrize("name", sorted(DOC))
def test_no_missing_values_outside_float_columns(tables, name):
    df = tables[name]
    for column, doc_type in DOC[name]:
        if doc_type != "float64":
            assert df[column].notna().all(), (name, column)


def test_only_event_days_may_be_missing(tables):
    p = tables["patients"]
    missing = [c for c in p.columns if p[c].isna().any()]
    assert set(missing) <= {"local_recurrence_day", "regional_recurrence_day", "distant_metastasis_day",
                            "skeletal_event_day", "ctc_at_relapse_7_5ml"}, missing


def test_in_memory_tables_follow_the_doc_column_order(run_dir):
    """simulate(...) tables already have the doc's column order, so save -> load is an exact round trip."""
    from seedsoil.interfaces.results import Result

    r = Result.load(run_dir)
    fresh = seedsoil.simulate("default", patients=20, seed=SEED, workers=1)
    for name in DOC:
        assert list(getattr(fresh, name).columns) == [c for c, _ in DOC[name]], name
        assert list(getattr(r, name).columns) == [c for c, _ in DOC[name]], name


def test_patient_ids_are_the_stream_indices(tables):
    assert list(tables["patients"]["patient_id"]) == list(range(PATIENTS))


@pytest.mark.parametrize("column", ["subtype", "histology", "pT", "pN", "stage", "M"])
def test_categorical_values_are_those_of_the_doc(tables, column):
    allowed = _doc_values(column)
    seen = set(tables["patients"][column])
    assert seen <= allowed, (column, seen - allowed)


def test_lesion_and_funnel_labels(tables):
    assert set(tables["lesions"]["origin"]) <= {"direct", "dormant", "metastasis"}
    assert set(tables["lesions"]["organ"]) <= set(ORGANS)
    f = tables["funnel"]
    assert set(f["stage"]) <= set(STAGES)
    assert set(f["organ"]) <= {"all", NODES, *ORGANS}
    assert (f["count"] >= 0).all()
    assert not f.duplicated(["stage", "organ"]).any()


# ----- the funnel -------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["default", "small"])
def cohort_tables(request, tables) -> dict[str, pd.DataFrame]:
    """The saved default run's tables, and a run of the two-clone 'small' scenario (fast engine)."""
    if request.param == "default":
        return tables
    return seedsoil.simulate("small", patients=150, seed=SEED, engine="fast", workers=1).tables()


@pytest.fixture(scope="module")
def funnel(cohort_tables) -> pd.DataFrame:
    """stage x site counts, 0 where the file has no row."""
    wide = cohort_tables["funnel"].pivot_table(index="stage", columns="organ", values="count", aggfunc="sum",
                                               fill_value=0)
    return wide.reindex(index=STAGES, columns=["all", *ORGANS, NODES], fill_value=0).astype("int64")


def test_funnel_rows_are_in_cascade_order(cohort_tables):
    order = [STAGES.index(s) for s in cohort_tables["funnel"]["stage"]]
    assert order == sorted(order)
    assert set(cohort_tables["funnel"]["stage"]) >= set(WHOLE_BODY) | {"arrested"}


def test_whole_body_stages_have_one_all_row(cohort_tables):
    f = cohort_tables["funnel"]
    for st in WHOLE_BODY:
        assert list(f.loc[f["stage"] == st, "organ"]) == ["all"], st
    assert (f.loc[~f["stage"].isin(WHOLE_BODY), "organ"] != "all").all()


def test_shed_units_enter_lymph_or_blood(funnel):
    a = funnel["all"]
    assert a["shed"] > 0
    assert a["shed"] == a["entered_lymph"] + a["entered_blood"]


def test_blood_route_loses_units_but_never_creates_them(funnel):
    a = funnel["all"]
    arrested = int(funnel.loc["arrested", list(ORGANS)].sum())
    assert a["entered_blood"] >= a["survived_circulation"] >= arrested > 0


@pytest.mark.parametrize("organ", ORGANS)
def test_each_organ_nests_arrest_extravasation_and_fates(funnel, organ):
    c = funnel[organ]
    assert c["arrested"] >= c["extravasated"] >= c["dormant"] + c["micrometastases"], c.to_dict()
    assert c["colonies"] >= c["detected"], c.to_dict()


def test_lymphatic_route_nests(funnel):
    assert funnel.loc["entered_lymph", "all"] >= funnel.loc["arrested", NODES] >= funnel.loc["colonies", NODES]
    assert funnel.loc["detected", NODES] == 0


def test_detected_counts_are_the_lesions(funnel, cohort_tables):
    """The funnel follows the primary's and the deposits' units: its detected metastases are the
    lesions of those origins (colonies seeded by metastases are in lesions.parquet, not the funnel)."""
    lesions = cohort_tables["lesions"]
    seeded = lesions[lesions["origin"] != "metastasis"]
    per_organ = seeded["organ"].value_counts().reindex(list(ORGANS), fill_value=0)
    assert funnel.loc["detected", list(ORGANS)].to_dict() == per_organ.to_dict()


def test_colonies_are_the_patients_colonies(funnel, cohort_tables):
    assert int(funnel.loc["colonies", list(ORGANS)].sum()) == int(cohort_tables["patients"]["n_colonies"].sum())


def test_funnel_summary_nests_along_the_blood_route(cohort_tables):
    """The whole-body summary (what the funnel figure draws) never grows from one stage to the next."""
    from seedsoil.analysis.funnel import summarise_funnel

    s = summarise_funnel(cohort_tables["funnel"]).set_index("stage")["count"]
    route = ["entered_blood", "survived_circulation", "arrested", "extravasated"]
    assert all(s[a] >= s[b] for a, b in zip(route, route[1:])), s
    assert s["extravasated"] >= s["dormant"] + s["micrometastases"]
    assert s["shed"] == s["entered_lymph"] + s["entered_blood"]
    assert s["colonies"] >= s["detected"]
