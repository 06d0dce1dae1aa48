"""The column spec in interfaces/schema.py against docs/schema.md, the Arrow schemas and the pandas dtypes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from seedsoil.interfaces import schema
from seedsoil.interfaces.results import TABLE_SCHEMAS
from seedsoil.interfaces.tables import FUNNEL_COLUMNS, LESION_COLUMNS, PATIENT_COLUMNS

SCHEMA_MD = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
TABLE_NAMES = ("patients", "lesions", "ctc_draws", "funnel")
# kind -> (Arrow type, pandas dtype), written out independently of the implementation.
KIND_TYPES = {"int64": (pa.int64(), "int64"), "float64": (pa.float64(), "float64"),
              "bool": (pa.bool_(), "bool"), "string": (pa.string(), "object")}


def test_schema_md_is_generated_from_the_spec():
    assert SCHEMA_MD.read_text(encoding="utf-8") == schema.schema_markdown(), (
        "docs/schema.md is out of date: run `python -m seedsoil.interfaces.schema > docs/schema.md`")


def test_tables_are_the_four_specs():
    assert tuple(schema.TABLES) == TABLE_NAMES
    assert schema.TABLES["patients"] is schema.PATIENT_COLUMNS_SPEC
    assert schema.TABLES["lesions"] is schema.LESION_COLUMNS_SPEC
    assert schema.TABLES["ctc_draws"] is schema.CTC_DRAW_COLUMNS_SPEC
    assert schema.TABLES["funnel"] is schema.FUNNEL_COLUMNS_SPEC
    assert set(TABLE_SCHEMAS) == set(TABLE_NAMES)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_arrow_schema_follows_the_spec_column_by_column(name):
    spec = schema.TABLES[name]
    for arrow in (schema.arrow_schema(name), TABLE_SCHEMAS[name]):
        assert arrow.names == [c.name for c in spec]
        for column, field in zip(spec, arrow, strict=True):
            assert field.type == KIND_TYPES[column.kind][0], (name, column.name, field.type)
            assert field.nullable == column.nullable, (name, column.name)


@pytest.mark.parametrize(("name", "derived"), [("patients", PATIENT_COLUMNS), ("lesions", LESION_COLUMNS),
                                               ("funnel", FUNNEL_COLUMNS)])
def test_pandas_dtypes_follow_the_spec_column_by_column(name, derived):
    spec = schema.TABLES[name]
    expected = {c.name: KIND_TYPES[c.kind][1] for c in spec}
    for dtypes in (schema.pandas_dtypes(name), derived):
        assert list(dtypes) == [c.name for c in spec]
        assert dtypes == expected


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_column_is_described(name):
    spec = schema.TABLES[name]
    assert len({c.name for c in spec}) == len(spec), "duplicate column names"
    for c in spec:
        assert c.description.strip(), (name, c.name)
        assert c.kind in schema.KINDS, (name, c.name)


def test_only_float_columns_are_nullable():
    """NaN is the only missing value the frames can carry; every other kind must be complete."""
    for name, spec in schema.TABLES.items():
        for c in spec:
            assert c.nullable == (c.kind == "float64"), (name, c.name)


def test_column_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        schema.Column("x", "float32", False, "", "a column")
