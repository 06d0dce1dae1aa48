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
from seedsoil.scenario.model import (ADJUVANT_THERAPIES, ERAS, HISTOLOGIES, SUBTYPES, SURGERIES, TRAITS, Clone, Cohort,
                                     Measurements, Scenario, Treatment)

__all__ = ["ADJUVANT_THERAPIES", "ERAS", "SURGERIES", "Treatment", "Measurements", "HISTOLOGIES", "MAX_ERRORS", "SUBTYPES", "TRAITS", "Clone", "Cohort", "Scenario", "ScenarioError",
           "ScenarioWarning", "builtin_names", "load_builtin", "load_scenario", "scenario_from_dict"]
