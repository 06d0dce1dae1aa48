"""Helpers shared by the scenario tests: write a scenario file, catch its error."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedsoil.scenario import ScenarioError, load_scenario


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(spec) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(spec)
    return info.value
