"""Scenario loading: built-ins load, overrides apply, and every kind of bad scenario gives one
ScenarioError naming the file, the key path, the offending value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedsoil.params import default_parameters
from seedsoil.scenario import (
    TRAITS,
    Scenario,
    ScenarioError,
    builtin_names,
    load_scenario,
    scenario_from_dict,
)
from scenario_files import error_of, write




def assert_message(err: ScenarioError, path: Path | str, key: str, value: object, *allowed: str) -> str:
    """The one-line message names file, key path, value (as repr) and what is allowed."""
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert err.source == str(path)
    if key:
        assert msg.startswith(f"{path}: {key} = ") or msg.startswith(f"{path}: {key}: "), msg
        assert err.key == key
    if value is not None:
        assert f" = {value!r}: " in msg, msg
        assert err.value == value
    for text in allowed:
        assert text in msg, f"{text!r} not in {msg!r}"
    assert "Input should" not in msg and "Value error" not in msg, f"pydantic wording leaks: {msg}"
    return msg


# --- good scenarios ---------------------------------------------------------------------


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_scenarios_load(name):
    scenario, params = load_scenario(name)
    assert isinstance(scenario, Scenario)
    assert scenario.name == name
    assert abs(sum(c.share for c in scenario.clones) - 1) < 1e-9
    assert set(params) == set(default_parameters())
    for k, v in scenario.parameters.items():
        assert params[k] == v


def test_builtin_names_are_default_and_small():
    assert set(builtin_names()) >= {"default", "small"}


def test_none_loads_the_default_scenario():
    assert load_scenario(None)[0] == load_scenario("default")[0]


def test_default_scenario_uses_default_parameters():
    _, params = load_scenario("default")
    assert params.digest() == default_parameters().digest()


def test_small_scenario_overrides_diagnosis_size():
    scenario, params = load_scenario("small")
    assert scenario.engine in ("fast", "reference")
    assert params["diagnosis.size_max_mm"] == 8
    assert params.digest() != default_parameters().digest()


def test_minimal_file_gets_defaults(tmp_path):
    scenario, params = load_scenario(write(tmp_path, 'name = "tiny"\n'))
    assert scenario.name == "tiny"
    assert [c.name for c in scenario.clones] == ["main"]
    assert params.digest() == default_parameters().digest()


def test_nested_and_quoted_dotted_parameter_keys_are_equivalent(tmp_path):
    nested = write(tmp_path, "[parameters.growth.vdt_days]\nher2 = 120\n", "nested.toml")
    quoted = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = 120\n', "quoted.toml")
    mixed = write(tmp_path, "[parameters]\ngrowth.vdt_days.her2 = 120\n", "mixed.toml")  # TOML dotted key
    results = [load_scenario(p) for p in (nested, quoted, mixed)]
    (s0, p0), *rest = results
    for s, p in rest:
        assert s == s0
        assert p.digest() == p0.digest()
    assert s0.parameters == {"growth.vdt_days.her2": 120.0}
    assert p0["growth.vdt_days.her2"] == 120.0


def test_override_changes_the_parameter_set(tmp_path):
    default = default_parameters()
    path = write(tmp_path, '[parameters]\n"circulation.ctc_half_life_h" = 2.0\n"nodes.count" = 30\n')
    _, params = load_scenario(path)
    assert default["circulation.ctc_half_life_h"] == 1.5
    assert params["circulation.ctc_half_life_h"] == 2.0
    assert params["nodes.count"] == 30.0
    assert params.digest() != default.digest()
    changed = {k for k in params if params[k] != default[k]}
    assert changed == {"circulation.ctc_half_life_h", "nodes.count"}


def test_scenario_with_clones_and_cohort(tmp_path):
    path = write(tmp_path, """
name = "mix"
engine = "reference"
[cohort]
follow_up_years = 15
subtype_shares = { luminal_a = 0.4, luminal_b = 0.3, her2 = 0.2, triple_negative = 0.1 }
[cohort.ilc_share]
luminal_a = 0.2
[[clones]]
name = "main"
share = 0.7
[[clones]]
name = "brainy"
share = 0.3
traits = { her2 = 1, nrg_response = 0.9 }
""")
    scenario, _ = load_scenario(path)
    assert scenario.cohort.follow_up_years == 15
    assert scenario.cohort.subtype_shares.her2 == 0.2
    assert scenario.cohort.ilc_share.luminal_a == 0.2
    assert scenario.cohort.ilc_share.her2 == 0.03  # unlisted: default
    assert scenario.clones[1].traits == {"her2": 1.0, "nrg_response": 0.9}


def test_scenario_from_dict_names_its_source():
    with pytest.raises(ScenarioError, match=r"^my-source: cohort\.follow_up_years = 0: "):
        scenario_from_dict({"cohort": {"follow_up_years": 0}}, source="my-source")


def test_scenario_error_is_a_value_error():
    assert issubclass(ScenarioError, ValueError)


# --- unknown keys -----------------------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, 'nmae = "x"\n')
    assert_message(error_of(path), path, "nmae", "x", "unknown key", "did you mean name?")


def test_unknown_key_nested_in_cohort(tmp_path):
    path = write(tmp_path, "[cohort]\nfollowup_years = 3\n")
    assert_message(error_of(path), path, "cohort.followup_years", 3, "unknown key", "did you mean follow_up_years?")


def test_unknown_parameter_name(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.luminal_c" = 100\n')
    assert_message(error_of(path), path, "parameters.growth.vdt_days.luminal_c", 100, "unknown parameter")


def test_unknown_parameter_name_in_nested_table(tmp_path):
    path = write(tmp_path, "[parameters.circulation]\nctc_halflife_h = 2\n")
    assert_message(error_of(path), path, "parameters.circulation.ctc_halflife_h", 2, "unknown parameter")


def test_same_parameter_in_both_spellings_is_rejected(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = 100\n[parameters.growth.vdt_days]\nher2 = 120\n')
    msg = assert_message(error_of(path), path, "parameters.growth.vdt_days.her2", 120, "given twice")
    assert "100" in msg


# --- wrong types ------------------------------------------------------------------------


def test_fractional_node_count(tmp_path):
    path = write(tmp_path, '[parameters]\n"nodes.count" = 2.5\n')
    assert_message(error_of(path), path, "parameters.nodes.count", 2.5, "must be a whole number", "[1, 60]", "nodes")


def test_string_where_a_number_is_expected(tmp_path):
    path = write(tmp_path, '[cohort]\nage_mean = "sixty"\n')
    assert_message(error_of(path), path, "cohort.age_mean", "sixty", "must be a number", "[18, 100]")


@pytest.mark.parametrize("text", ['"60"', "true"], ids=["numeric-string", "bool"])
def test_quoted_number_or_bool_is_not_a_number(tmp_path, text):
    path = write(tmp_path, f"[cohort]\nage_mean = {text}\n")
    err = error_of(path)
    assert_message(err, path, "cohort.age_mean", err.value, "must be a number")
    assert err.value in ("60", True)


def test_string_clone_share(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = "all"\n')
    assert_message(error_of(path), path, "clones[0].share", "all", "must be a number", "(0, 1]")


def test_bool_clone_share(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = true\n')
    assert_message(error_of(path), path, "clones[0].share", True, "must be a number")


def test_string_parameter_value(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = "fast"\n')
    assert_message(error_of(path), path, "parameters.growth.vdt_days.her2", "fast",
                   "must be a number", "[30, 2000]", "day")


def test_bool_parameter_value(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = true\n')
    assert_message(error_of(path), path, "parameters.growth.vdt_days.her2", True, "must be a number")


def test_parameters_not_a_table(tmp_path):
    path = write(tmp_path, "parameters = 3\n")
    assert_message(error_of(path), path, "parameters", 3, "must be a table")


def test_cohort_not_a_table(tmp_path):
    path = write(tmp_path, "cohort = 3\n")
    assert_message(error_of(path), path, "cohort", 3, "must be a table")


def test_unknown_engine(tmp_path):
    path = write(tmp_path, 'engine = "turbo"\n')
    assert_message(error_of(path), path, "engine", "turbo", "'fast'", "'reference'")


# --- out of range -----------------------------------------------------------------------


def test_parameter_override_out_of_range(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = 5000\n')
    assert_message(error_of(path), path, "parameters.growth.vdt_days.her2", 5000, "[30, 2000]", "day")


def test_nested_parameter_override_out_of_range(tmp_path):
    path = write(tmp_path, "[parameters.growth.vdt_days]\nher2 = 5000\n")
    assert_message(error_of(path), path, "parameters.growth.vdt_days.her2", 5000, "[30, 2000]")


def test_nan_parameter_override(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = nan\n')
    err = error_of(path)
    assert "parameters.growth.vdt_days.her2 = nan" in str(err)
    assert "[30, 2000]" in str(err)


def test_follow_up_years_zero(tmp_path):
    path = write(tmp_path, "[cohort]\nfollow_up_years = 0\n")
    assert_message(error_of(path), path, "cohort.follow_up_years", 0, "(0, 40]")


def test_age_min_above_age_max(tmp_path):
    path = write(tmp_path, "[cohort]\nage_min = 95\n")
    assert_message(error_of(path), path, "cohort", None, "age_min (95)", "age_max (90)")


def test_cross_check_between_parameters(tmp_path):
    path = write(tmp_path, '[parameters]\n"colony.death_rate_per_day" = 1.0\n')
    assert_message(error_of(path), path, "parameters.colony.death_rate_per_day", 1.0,
                   "must be below colony.birth_rate_per_day")


# --- probabilities above 1 --------------------------------------------------------------


def test_ilc_share_above_one(tmp_path):
    path = write(tmp_path, "[cohort.ilc_share]\nher2 = 1.2\n")
    assert_message(error_of(path), path, "cohort.ilc_share.her2", 1.2, "[0, 1]")


def test_clone_trait_above_one(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = 1.0\ntraits = { cxcr4 = 1.5 }\n')
    assert_message(error_of(path), path, "clones[0].traits.cxcr4", 1.5, "[0, 1]")


def test_probability_parameter_above_one(tmp_path):
    path = write(tmp_path, '[parameters]\n"circulation.nk_death" = 1.5\n')
    assert_message(error_of(path), path, "parameters.circulation.nk_death", 1.5, "[0, 1]")


# --- negative rate ----------------------------------------------------------------------


def test_negative_shedding_rate(tmp_path):
    path = write(tmp_path, '[parameters]\n"dissemination.shed_rate_per_cell_day" = -1\n')
    assert_message(error_of(path), path, "parameters.dissemination.shed_rate_per_cell_day", -1,
                   "[1e-05, 0.1]", "1/day")


def test_negative_clone_trait(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = 1.0\ntraits = { ecad = -0.1 }\n')
    assert_message(error_of(path), path, "clones[0].traits.ecad", -0.1, "[0, 1]")


# --- bad TOML / unreadable files --------------------------------------------------------


def test_toml_syntax_error(tmp_path):
    path = write(tmp_path, "[cohort\nfollow_up_years = 3\n")
    msg = assert_message(error_of(path), path, "", None, "not valid TOML")
    assert "line 1" in msg


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    assert_message(error_of(path), path, "", None, "no such file", "default", "small")


def test_missing_file_given_as_string(tmp_path):
    path = str(tmp_path / "nope.toml")
    assert_message(error_of(path), path, "", None, "no such file")


def test_directory_instead_of_file(tmp_path):
    assert_message(error_of(tmp_path), tmp_path, "", None, "cannot read the file")


def test_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Hôpital"\n'.encode("latin-1"))
    assert_message(error_of(path), path, "", None, "cannot read the file", "utf-8")


# --- shares -----------------------------------------------------------------------------


def test_subtype_shares_not_summing_to_one(tmp_path):
    path = write(tmp_path, "[cohort.subtype_shares]\nluminal_a = 0.6\n")
    assert_message(error_of(path), path, "cohort.subtype_shares", {"luminal_a": 0.6},
                   "sum to 1.1", "must sum to 1", "luminal_b=0.25")


def test_subtype_shares_slightly_off_are_not_shown_as_one(tmp_path):
    path = write(tmp_path, "[cohort.subtype_shares]\nluminal_a = 0.500002\n")
    msg = str(error_of(path))
    assert "sum to 1.000002" in msg
    assert "sum to 1;" not in msg and "sum to 1 " not in msg


def test_clone_shares_not_summing_to_one(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "a"\nshare = 0.5\n[[clones]]\nname = "b"\nshare = 0.4\n')
    assert_message(error_of(path), path, "clones", [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}],
                   "sum to 0.9", "must sum to 1")


def test_empty_clone_list(tmp_path):
    path = write(tmp_path, "clones = []\n")
    assert_message(error_of(path), path, "clones", [], "at least one clone")


def test_duplicate_clone_names(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "a"\nshare = 0.5\n[[clones]]\nname = "a"\nshare = 0.5\n')
    assert_message(error_of(path), path, "clones", None, "unique")


def test_zero_clone_share(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = 0\n')
    assert_message(error_of(path), path, "clones[0].share", 0, "(0, 1]")


def test_clone_without_share(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\n')
    assert_message(error_of(path), path, "clones[0].share", None, "missing")


# --- traits -----------------------------------------------------------------------------


def test_unknown_trait_name(tmp_path):
    path = write(tmp_path, '[[clones]]\nname = "main"\nshare = 1.0\ntraits = { telepathy = 0.5 }\n')
    assert_message(error_of(path), path, "clones[0].traits", {"telepathy": 0.5},
                   "unknown trait 'telepathy'", *TRAITS)
