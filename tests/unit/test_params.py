"""The parameter registry: shipped data is complete and consistent, matches the published
reference data shipped in the package (src/seedsoil/reference/, copied from the project's
shared reference data with its sources), and overrides are validated."""

from __future__ import annotations

import csv
import doctest
import math
import tomllib
from collections import defaultdict
from importlib.resources import files
from pathlib import Path

import pytest

from seedsoil.params import ParameterError, ParameterSet, default_parameters
from seedsoil.params import registry
from seedsoil.params.registry import CONFIDENCE_LEVELS

REFERENCE = files("seedsoil") / "reference"
"""The package's copy of the reference rows these tests check (never skipped: it ships with seedsoil)."""
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

P = default_parameters()
NAMES = sorted(P)


# --- shipped data -----------------------------------------------------------------------


def test_registry_is_not_empty():
    assert len(P) > 50


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_is_documented_and_in_range(name):
    rec = P.meta(name)
    assert rec.name == name
    for field in ("unit", "source", "description"):
        assert getattr(rec, field).strip(), f"{name}: empty {field}"
    assert rec.confidence in CONFIDENCE_LEVELS
    assert all(math.isfinite(x) for x in (rec.value, rec.minimum, rec.maximum)), name
    assert rec.minimum <= rec.value <= rec.maximum, name
    assert P[name] == rec.value


def _organ_fields() -> dict[str, set[str]]:
    fields: dict[str, set[str]] = defaultdict(set)
    for name in P:
        parts = name.split(".")
        if parts[0] == "organ":
            assert len(parts) == 3, f"organ parameter not named organ.<organ>.<field>: {name}"
            fields[parts[1]].add(parts[2])
    return fields


def test_every_organ_has_the_same_fields():
    fields = _organ_fields()
    assert {"lung", "liver", "bone", "brain"} <= set(fields)
    reference = fields["lung"]
    for organ, f in fields.items():
        assert f == reference, f"{organ}: missing {sorted(reference - f)}, extra {sorted(f - reference)}"


def test_blood_flow_shares_sum_to_one():
    shares = [P[f"organ.{o}.blood_flow_share"] for o in _organ_fields()]
    assert math.fsum(shares) == pytest.approx(1.0, abs=1e-9)
    assert all(s >= 0 for s in shares)


def test_group_returns_values_under_a_prefix():
    vdt = P.group("growth.vdt_days")
    assert set(vdt) == {"luminal_a", "luminal_b", "her2", "triple_negative"}
    assert vdt["her2"] == P["growth.vdt_days.her2"]


# --- agreement with the reference data shipped in seedsoil/reference ---------------------


def _reference(fname: str) -> list[dict[str, str]]:
    path = REFERENCE / fname
    assert path.is_file(), f"reference data {fname} missing from the package (src/seedsoil/reference/)"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["source"].strip() for r in rows), f"{fname}: every row must name its source"
    return rows


def test_reference_data_is_package_data():
    """The copy travels with the package (wheel and sdist), not only with this checkout."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert "reference/*.csv" in data["tool"]["setuptools"]["package-data"]["seedsoil"]
    for fname in ("growth_and_staging.csv", "cascade_efficiency.csv"):
        assert (REFERENCE / fname).is_file(), fname


def _ref_value(rows: list[dict[str, str]], key: str, group: str, quantity: str) -> str:
    hits = [r["value"] for r in rows if r[key] == group and r["quantity"] == quantity]
    assert len(hits) == 1, f"reference row {group}/{quantity} not found exactly once"
    return hits[0]


@pytest.fixture(scope="module")
def growth_ref():
    return _reference("growth_and_staging.csv")


@pytest.fixture(scope="module")
def cascade_ref():
    return _reference("cascade_efficiency.csv")


def test_cells_per_volume_matches_reference(growth_ref):
    per_cm3 = float(_ref_value(growth_ref, "group", "all", "cells_per_cm3"))
    assert P["cells.per_mm3"] * 1e3 == pytest.approx(per_cm3, rel=1e-12)


def test_shedding_rate_matches_butler_gullino(cascade_ref):
    per_gram_day = float(_ref_value(cascade_ref, "experiment", "mammary_carcinoma_rat",
                                    "cells_shed_per_gram_tumour_per_day"))
    cells_per_gram = 1e9  # 1 g of tumour ~ 1 cm3 ~ 1e9 cells, the conversion the source note uses
    assert P["dissemination.shed_rate_per_cell_day"] * cells_per_gram == pytest.approx(per_gram_day, rel=1e-12)


def test_ctc_half_life_within_meng_range(cascade_ref):
    low = float(_ref_value(cascade_ref, "experiment", "human_breast", "ctc_half_life_low"))
    high = float(_ref_value(cascade_ref, "experiment", "human_breast", "ctc_half_life_high"))
    assert low <= P["circulation.ctc_half_life_h"] <= high
    assert P.meta("circulation.ctc_half_life_h").unit == "hour"


@pytest.mark.parametrize(
    ("param", "group"),
    [
        ("growth.vdt_days.luminal_a", "er_positive"),
        ("growth.vdt_days.her2", "her2_positive"),
        ("growth.vdt_days.triple_negative", "triple_negative"),
    ],
)
def test_doubling_times_match_ryu(growth_ref, param, group):
    ref = float(_ref_value(growth_ref, "group", group, "volume_doubling_time_mean"))
    assert P[param] == pytest.approx(ref, rel=1e-12)
    assert P.meta(param).unit == "day"
    assert "Ryu" in P.meta(param).source


def test_doubling_times_ordered_by_aggressiveness():
    v = P.group("growth.vdt_days")
    assert v["triple_negative"] < v["her2"] < v["luminal_a"]
    # luminal B (Ki-67 high) grows faster than the ER+ mean of Ryu 2014, which luminal A keeps
    assert v["her2"] <= v["luminal_b"] < v["luminal_a"]
    assert P.meta("growth.vdt_days.luminal_b").confidence == "estimated"


@pytest.mark.parametrize(
    ("param", "quantity"),
    [("nodes.itc_max_mm", "itc_max_diameter"), ("nodes.micromet_max_mm", "micrometastasis_max_diameter")],
)
def test_ajcc_nodal_size_thresholds(growth_ref, param, quantity):
    ref = float(_ref_value(growth_ref, "group", "nodes", quantity))
    assert P[param] == pytest.approx(ref, rel=1e-12)
    assert P.meta(param).unit == "mm"


@pytest.mark.parametrize(
    ("param", "quantity"),
    [("nodes.pn1a_max_positive", "pN1a_positive_nodes"), ("nodes.pn2a_max_positive", "pN2a_positive_nodes")],
)
def test_ajcc_nodal_count_thresholds(growth_ref, param, quantity):
    ref = _ref_value(growth_ref, "group", "nodes", quantity)  # e.g. "1-3"
    assert P[param] == float(ref.split("-")[1])


# --- overrides --------------------------------------------------------------------------

NAME = "growth.vdt_days.her2"


def test_override_in_range_is_applied_and_original_untouched():
    rec = P.meta(NAME)
    new_value = (rec.minimum + rec.maximum) / 2
    q = P.with_overrides({NAME: new_value})
    assert isinstance(q, ParameterSet)
    assert q[NAME] == new_value
    assert P[NAME] == rec.value  # the default set is immutable
    assert q.meta(NAME).unit == rec.unit and q.meta(NAME).source == rec.source
    assert set(q) == set(P)
    assert all(q[k] == P[k] for k in P if k != NAME)


@pytest.mark.parametrize("edge", ["minimum", "maximum"])
def test_override_at_range_edges_is_accepted(edge):
    bound = getattr(P.meta(NAME), edge)
    assert P.with_overrides({NAME: bound})[NAME] == bound


def test_override_accepts_int_and_returns_float():
    q = P.with_overrides({NAME: 120})
    assert q[NAME] == 120.0 and isinstance(q[NAME], float)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1e9, id="above-max"),
        pytest.param(1.0, id="below-min"),
        pytest.param(-5, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param("120", id="numeric-string"),
        pytest.param("fast", id="string"),
        pytest.param(None, id="none"),
        pytest.param([120], id="list"),
        pytest.param(True, id="bool-true"),
        pytest.param(False, id="bool-false"),
    ],
)
def test_override_rejects_bad_values(value):
    with pytest.raises(ParameterError) as info:
        P.with_overrides({NAME: value})
    err = info.value
    assert err.name == NAME
    assert err.value is value
    assert "[30, 2000]" in err.allowed and "day" in err.allowed
    assert NAME in str(err) and repr(value) in str(err)


def test_override_rejects_unknown_name():
    with pytest.raises(ParameterError) as info:
        P.with_overrides({"growth.vdt_days.luminal_c": 100})
    err = info.value
    assert err.name == "growth.vdt_days.luminal_c"
    assert err.value == 100
    assert "unknown parameter" in err.allowed
    assert "growth.vdt_days.luminal_c" in str(err)


# --- integer-valued parameters (counts) -------------------------------------------------


COUNTS = {"nodes.count", "nodes.sentinel_count", "nodes.pn1a_max_positive", "nodes.pn2a_max_positive"}


def test_counts_are_marked_integer_in_the_data():
    assert COUNTS <= P.integers
    data = Path(registry.__file__).parent / "data" / "parameters.csv"
    with data.open(encoding="utf-8") as fh:
        marked = {row["name"] for row in csv.DictReader(fh) if row["integer"] == "yes"}
    assert marked <= P.integers and COUNTS <= marked
    assert all(P.meta(n).integer for n in P.integers)
    assert not P.meta(NAME).integer


@pytest.mark.parametrize("name", sorted(P.integers))
def test_integer_parameters_have_whole_values_and_bounds(name):
    rec = P.meta(name)
    assert all(float(x).is_integer() for x in (rec.value, rec.minimum, rec.maximum)), name


@pytest.mark.parametrize("value", [2.5, 1.000001, 59.5])
def test_fractional_count_is_rejected(value):
    with pytest.raises(ParameterError) as info:
        P.with_overrides({"nodes.count": value})
    assert info.value.value is value
    assert info.value.allowed == "must be a whole number in [1, 60] nodes"


@pytest.mark.parametrize("value", [2, 2.0, 60, 1e1])
def test_whole_count_is_accepted(value):
    assert P.with_overrides({"nodes.count": value})["nodes.count"] == float(value)


@pytest.mark.parametrize("value", [0, 61, "3", True])
def test_count_out_of_range_or_not_a_number_says_whole_number(value):
    with pytest.raises(ParameterError) as info:
        P.with_overrides({"nodes.count": value})
    assert "[1, 60] nodes" in info.value.allowed and "whole number" in info.value.allowed


def test_integer_column_is_checked():
    header = "name,value,unit,min,max,source,confidence,description,integer\n"
    ok = registry._read_csv(header + "a.b,3,nodes,1,9,s,estimated,d,yes\nc.d,0.5,1,0,1,s,estimated,d,\n", "t.csv")
    assert ok["a.b"].integer and not ok["c.d"].integer
    with pytest.raises(ValueError, match="integer"):
        registry._read_csv(header + "a.b,3,nodes,1,9,s,estimated,d,maybe\n", "t.csv")
    with pytest.raises(ValueError, match="whole-number bounds"):
        registry._read_csv(header + "a.b,3,nodes,1,9.5,s,estimated,d,yes\n", "t.csv")
    with pytest.raises(ParameterError):  # a default that is not whole
        registry._read_csv(header + "a.b,3.5,nodes,1,9,s,estimated,d,yes\n", "t.csv")
    old = "name,value,unit,min,max,source,confidence,description\n"  # files without the column
    assert not registry._read_csv(old + "a.b,3,nodes,1,9,s,estimated,d\n", "t.csv")["a.b"].integer


# --- several overrides checked at once ---------------------------------------------------


def test_check_overrides_collects_every_problem_in_order():
    overrides = {"nodes.count": 2.5, NAME: 120, "no.such.name": 1, "circulation.nk_death": 1.5}
    good, errors = P.check_overrides(overrides)
    assert good == {NAME: 120.0}
    assert [e.name for e in errors] == ["nodes.count", "no.such.name", "circulation.nk_death"]
    assert "unknown parameter" in errors[1].allowed


def test_with_overrides_raises_the_first_problem():
    with pytest.raises(ParameterError) as info:
        P.with_overrides({NAME: 120, "nodes.count": 2.5, "circulation.nk_death": 1.5})
    assert info.value.name == "nodes.count"


def test_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)


def test_meta_of_unknown_name_raises_parameter_error():
    with pytest.raises(ParameterError):
        P.meta("no.such.parameter")
    with pytest.raises(KeyError, match="no.such.parameter"):
        P["no.such.parameter"]


# --- digest -----------------------------------------------------------------------------


def test_digest_is_stable():
    assert P.digest() == P.digest() == default_parameters().digest()
    assert P.with_overrides({}).digest() == P.digest()
    # overriding with the same value is the same parameter set
    assert P.with_overrides({NAME: P[NAME]}).digest() == P.digest()
    assert len(P.digest()) == 64


@pytest.mark.parametrize("name", NAMES)
def test_digest_changes_when_any_value_changes(name):
    rec = P.meta(name)
    new = rec.maximum if rec.value != rec.maximum else rec.minimum
    if new == rec.value:
        pytest.skip(f"{name} has a fixed value")
    assert P.with_overrides({name: new}).digest() != P.digest()


def test_digest_sees_small_changes():
    v = P[NAME]
    assert P.with_overrides({NAME: math.nextafter(v, math.inf)}).digest() != P.digest()


# --- doctest ----------------------------------------------------------------------------


def test_registry_doctest_runs():
    result = doctest.testmod(registry, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
