"""Scenarios (layer 1): TOML overrides on the default parameters plus the cohort mix, validated."""

from seedsoil.scenario.load import (
    MAX_ERRORS,
    ScenarioError,
    ScenarioWarning,
    builtin_names,
    load_builtin,
    load_scenario,
    scenario_from_dict,
)
from seedsoil.scenario.model import HISTOLOGIES, SUBTYPES, TRAITS, Clone, Cohort, Scenario

__all__ = ["HISTOLOGIES", "MAX_ERRORS", "SUBTYPES", "TRAITS", "Clone", "Cohort", "Scenario", "ScenarioError",
           "ScenarioWarning", "builtin_names", "load_builtin", "load_scenario", "scenario_from_dict"]
