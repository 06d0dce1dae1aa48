"""The dashboard's widgets become a scenario through the scenario loader, so a bad widget value or
an uploaded file that fails validation gives the command line's own line (the browser test types
an out-of-range number; this covers the upload and the other fields without a browser)."""

from __future__ import annotations

import base64

import pytest

from seedsoil.interfaces.app import APP_PARAMETERS, build_scenario
from seedsoil.params import default_parameters
from seedsoil.scenario import ScenarioError

SHARES = {"luminal_a": 0.5, "luminal_b": 0.25, "her2": 0.12, "triple_negative": 0.13}


def _upload(text: str) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(text.encode()).decode()


def test_widgets_make_the_scenario():
    values = {n: str(default_parameters()[n]) for n in APP_PARAMETERS} | {"homing.cxcr4_strength": "3"}
    sc, p, n, s = build_scenario("default", None, values, SHARES, "1500", "7")
    assert p["homing.cxcr4_strength"] == 3.0 and n == 1500 and s == 7
    sc, p, _, _ = build_scenario("default", _upload('name = "up"\n[treatment]\nera = "1990"\n'), {}, SHARES, 10, 1)
    assert sc.treatment.era == "1990"


@pytest.mark.parametrize("upload, values, shares, patients, message", [
    ('name = "up"\n[cohort]\nage_mean = 300\n', {}, SHARES, 10, "<uploaded scenario>: cohort.age_mean = 300"),
    ('name = "up"\nbogus = 1\n', {}, SHARES, 10, "bogus = 1: unknown key"),
    (None, {"organ.bone.soil_fit": "99"}, SHARES, 10, "parameters.organ.bone.soil_fit = 99.0: must be in \\[0, 50\\]"),
    (None, {"organ.bone.soil_fit": "lots"}, SHARES, 10, "organ.bone.soil_fit = 'lots': must be a number"),
    (None, {}, SHARES | {"luminal_a": 0.9}, 10, "subtype shares sum to 1.4"),
    (None, {}, SHARES, "0", "patients must be a whole number from 1"),
])
def test_bad_input_gives_the_loaders_line(upload, values, shares, patients, message):
    with pytest.raises((ScenarioError, ValueError), match=message):
        build_scenario("default", _upload(upload) if upload else None, values, shares, patients, 1)
