"""The staging work-up at a first distant relapse (issue 10: multi-organ relapse).

When a first distant metastasis is found, CT and a bone scan image every organ but the brain
(clinic.guideline.RELAPSE_WORKUP_SKIPS) at the staging work-up's resolution
(``staging.workup_detection_fold`` x each organ's detection diameter). So among women without
metastases at diagnosis, lesions found on the day of the first relapse may be smaller than their
organ's detection size (down to the work-up's), never smaller than the work-up's, and a brain
lesion is only ever found at its symptomatic size. Fixed seed 5, 20,000 patients.
"""

from __future__ import annotations

import numpy as np
import pytest

import seedsoil
from seedsoil.params import default_parameters


@pytest.fixture(scope="module")
def relapses():
    r = seedsoil.simulate("default", patients=20000, seed=5, workers=1)
    p = r.patients[r.patients["M"] == "M0"]
    les = r.lesions.merge(p[["patient_id", "distant_metastasis_day"]], on="patient_id")
    return les[np.isclose(les["detection_day"], les["distant_metastasis_day"])]


def test_the_relapse_work_up_finds_small_lesions_outside_the_brain_only(relapses):
    p = default_parameters()
    fold = p["staging.workup_detection_fold"]
    detect = relapses["organ"].map(lambda o: p[f"organ.{o}.detection_mm"])
    small = relapses["size_mm"] < detect * (1 - 1e-6)
    assert small.sum() > 20  # the work-up does find lesions below their organ's detection size
    assert (relapses["organ"] == "brain").sum() > 5  # brain lesions are found on that day too, but
    assert "brain" not in set(relapses.loc[small, "organ"])  # only at their symptomatic size
    assert (relapses["size_mm"] >= fold * detect * (1 - 1e-6)).all()
