"""Scenarios (layer 1): TOML overrides on the default parameters plus the cohort mix, validated."""

from seedsoil.scenario.load import ScenarioError, builtin_names, load_scenario, scenario_from_dict
from seedsoil.scenario.model import HISTOLOGIES, SUBTYPES, TRAITS, Clone, Cohort, Scenario

__all__ = ["HISTOLOGIES", "SUBTYPES", "TRAITS", "Clone", "Cohort", "Scenario", "ScenarioError",
           "builtin_names", "load_scenario", "scenario_from_dict"]
