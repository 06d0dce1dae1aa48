"""The staging work-up at a first distant relapse (issue 10: multi-organ relapse) and at diagnosis.

When a first distant metastasis is found, CT and a bone scan image every organ but the brain
(clinic.guideline.WORKUP_SKIPS) at the staging work-up's resolution
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
def result():
    return seedsoil.simulate("default", patients=20000, seed=5, workers=1)


@pytest.fixture(scope="module")
def relapses(result):
    r = result
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


@pytest.fixture(scope="module")
def found_at_diagnosis(result):
    """Lesions of de novo stage IV patients found on the day of diagnosis, with her tumour size,
    positive nodes and whether the lesion had its organ's detection size."""
    p, r = default_parameters(), result
    m1 = r.patients[r.patients["M"] == "M1"]
    les = r.lesions.merge(m1[["patient_id", "distant_metastasis_day", "tumor_size_mm", "positive_nodes"]],
                          on="patient_id")
    at_dx = les[np.isclose(les["detection_day"], les["distant_metastasis_day"])].copy()
    at_dx["big"] = at_dx["size_mm"] >= at_dx["organ"].map(lambda o: p[f"organ.{o}.detection_mm"]) * (1 - 1e-6)
    return at_dx


def test_the_staging_work_up_at_diagnosis_finds_brain_metastases_only_with_symptoms(found_at_diagnosis):
    """De novo stage IV: the staging work-up finds lesions below their organ's detection size but
    images no brain (clinic.guideline.WORKUP_SKIPS), so a brain lesion found on the day of diagnosis
    has its symptomatic size."""
    at_dx = found_at_diagnosis
    small = ~at_dx["big"]
    assert small.sum() > 20
    assert (at_dx["organ"] == "brain").sum() > 0
    assert "brain" not in set(at_dx.loc[small, "organ"])


def test_the_staging_work_up_images_only_large_tumours_or_clinical_nodes(found_at_diagnosis):
    """At diagnosis the work-up images women beyond T2 or with clinically positive nodes (ESMO,
    NCCN): a node-negative T1-T2 woman is found M1 only through a metastasis of its organ's
    detection size (then staged in full, so smaller ones are found with it); beyond T2 the work-up
    alone can find her (all her metastases below detection size)."""
    per = found_at_diagnosis.groupby("patient_id").agg(big=("big", "any"), size=("tumor_size_mm", "first"),
                                                       nodes=("positive_nodes", "first"))
    t2 = default_parameters()["staging.t2_max_mm"]
    unimaged = (per["size"] <= t2) & (per["nodes"] == 0)
    assert unimaged.sum() > 10
    assert per.loc[unimaged, "big"].all()
    assert (~per.loc[per["size"] > t2, "big"]).sum() > 5
