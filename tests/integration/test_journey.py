"""One patient's journey (issue 11, part 4): it is her row of a run, told in order from the first
cell to death or the end of follow-up, with a figure; the command and its bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import seedsoil
from seedsoil.engine.streams import BLOCK_PATIENTS

SEED = 5
ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]


@pytest.fixture(scope="module")
def run() -> seedsoil.Result:
    return seedsoil.simulate("default", patients=BLOCK_PATIENTS + 40, seed=SEED, workers=1)


def test_patient_n_is_row_n_of_a_run(run):
    for n in (3, BLOCK_PATIENTS + 7):  # in the first block and in the second
        j = seedsoil.journey("default", patient=n, seed=SEED)
        pd.testing.assert_series_equal(j.patient, run.patients.iloc[n], check_names=False)
        pd.testing.assert_frame_equal(j.lesions.reset_index(drop=True),
                                      run.lesions[run.lesions["patient_id"] == n].reset_index(drop=True))


def test_the_story_runs_in_order_from_the_first_cell_to_the_end():
    j = seedsoil.journey("default", subtype="her2", seed=SEED)
    p = j.patient
    assert p["subtype"] == "her2" and np.isfinite(p["distant_metastasis_day"]) and p["M"] == "M0"
    days = j.events["day"].to_numpy()
    assert (np.diff(days) >= 0).all()
    assert days[0] < 0 and "first cancer cell" in j.events["text"].iloc[0]
    assert days[-1] == pytest.approx(p["os_days"])
    assert days[0] == pytest.approx(j.hidden["first_cell_day"])
    np.testing.assert_allclose(j.events["age"], p["age_at_diagnosis"] + days / 365.25)
    text = j.story()
    assert f"stage {p['stage']}" in text
    for organ in set(j.lesions["organ"]):
        assert organ.replace("_", " ") in text or organ in text
    fig = j.figure()
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"


def test_the_journey_command_writes_the_timeline(tmp_path):
    done = subprocess.run([*ENTRY, "journey", "--subtype", "triple_negative", "--seed", str(SEED), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "first cancer cell" in done.stdout and "Diagnosis:" in done.stdout
    assert (tmp_path / "journey.png").stat().st_size > 10_000
    events = pd.read_csv(tmp_path / "journey.csv")
    assert list(events.columns) == ["day", "age", "phase", "text"] and len(events) >= 4


@pytest.mark.parametrize("args, words", [
    (["--subtype", "basal"], "--subtype 'basal': allowed"),
    (["--histology", "mucinous"], "--histology 'mucinous': allowed"),
    (["--patient", "-1"], "--patient"),
    (["--patient", "3", "--subtype", "her2"], "--patient picks one patient"),
    (["no_such_scenario.toml"], "no such file"),
])
def test_bad_journey_input_is_one_line(args, words):
    done = subprocess.run([*ENTRY, "journey", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
