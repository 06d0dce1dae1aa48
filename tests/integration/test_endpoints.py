"""Clinical end points of a simulated cohort: consistent with each other, the lesions and AJCC 8th.

One default cohort of 1,500 patients (module-scoped) is checked patient by patient against the
rules of docs/schema.md and STEEP (Hudis et al. 2007): DFS counts regional recurrence, distant
metastasis and death; DMFS distant metastasis and death; OS death; all censored at the
follow-up horizon.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

import seedsoil
from seedsoil.analysis import median_by_group, median_os_after_distant_relapse
from seedsoil.biology.organs import ORGANS, OrganTable
from seedsoil.engine.streams import BLOCK_PATIENTS
from seedsoil.scenario import load_scenario, scenario_from_dict

PATIENTS = 1500
SEED = 1
DAYS_PER_YEAR = 365.25
HORIZON = 10 * DAYS_PER_YEAR
FIRST_SITES_WINDOW = 90.0
ENDPOINTS = ("dfs", "dmfs", "os")

# AJCC 8th edition, written out here independently of seedsoil.clinic.staging.
PT_LIMITS = (("T1mi", 0.0, 1.0), ("T1a", 1.0, 5.0), ("T1b", 5.0, 10.0), ("T1c", 10.0, 20.0),
             ("T2", 20.0, 50.0), ("T3", 50.0, math.inf))  # (category, > low, <= high) in mm
PN_POSITIVE = {"pN0": (0, 0), "pN0(i+)": (0, 0), "pN1mi": (1, math.inf), "pN1a": (1, 3), "pN2a": (4, 9),
               "pN3a": (10, math.inf)}
ANATOMIC_STAGE = {  # (T group, N group) -> stage, M0
    ("T1", "N0"): "IA", ("T1", "N1mi"): "IB", ("T1", "N1"): "IIA", ("T1", "N2"): "IIIA", ("T1", "N3"): "IIIC",
    ("T2", "N0"): "IIA", ("T2", "N1mi"): "IIB", ("T2", "N1"): "IIB", ("T2", "N2"): "IIIA", ("T2", "N3"): "IIIC",
    ("T3", "N0"): "IIB", ("T3", "N1mi"): "IIIA", ("T3", "N1"): "IIIA", ("T3", "N2"): "IIIA", ("T3", "N3"): "IIIC",
}
N_GROUP = {"pN0": "N0", "pN0(i+)": "N0", "pN1mi": "N1mi", "pN1a": "N1", "pN2a": "N2", "pN3a": "N3"}


@pytest.fixture(scope="module")
def cohort():
    return seedsoil.simulate("default", patients=PATIENTS, seed=SEED)


@pytest.fixture(scope="module")
def patients(cohort) -> pd.DataFrame:
    return cohort.patients.set_index("patient_id", drop=False)


@pytest.fixture(scope="module")
def lesions(cohort) -> pd.DataFrame:
    return cohort.lesions


def _sites(text: str) -> set[str]:
    return {s for s in text.split(";") if s}


def test_cohort_is_not_degenerate(patients, lesions):
    """Otherwise the checks below would pass vacuously."""
    assert PATIENTS > BLOCK_PATIENTS  # more than one random-stream block, the last one partly kept
    assert len(patients) == PATIENTS
    assert list(patients["patient_id"]) == list(range(PATIENTS))
    assert patients["os_event"].sum() > 50
    assert (patients["metastasis_sites"] != "").sum() > 50
    assert (patients["M"] == "M1").sum() >= 5
    assert patients["regional_recurrence_day"].notna().sum() >= 5
    assert len(lesions) > 100
    assert {"direct", "dormant"} <= set(lesions["origin"]) <= {"direct", "dormant", "metastasis"}


# ----- times and events -------------------------------------------------------------------------

def test_dfs_le_dmfs_le_os(patients):
    assert (patients["dfs_days"] <= patients["dmfs_days"]).all()
    assert (patients["dmfs_days"] <= patients["os_days"]).all()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_times_are_within_follow_up(patients, endpoint):
    t = patients[f"{endpoint}_days"]
    assert t.notna().all()
    assert ((t >= 0) & (t <= HORIZON)).all(), t.describe()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_censored_exactly_at_the_horizon(patients, endpoint):
    t, e = patients[f"{endpoint}_days"], patients[f"{endpoint}_event"]
    assert (t[~e] == HORIZON).all()
    assert (~e).any()


def test_event_hierarchy(patients):
    """Death is a DMFS event, a DMFS event is a DFS event (STEEP)."""
    assert (patients["dmfs_event"] | ~patients["os_event"]).all()
    assert (patients["dfs_event"] | ~patients["dmfs_event"]).all()


def test_death_cause(patients):
    alive = patients[~patients["os_event"]]
    dead = patients[patients["os_event"]]
    assert (alive["death_cause"] == "").all()
    valid = {"other_causes"} | {f"organ_failure:{o}" for o in ORGANS}
    assert set(dead["death_cause"]) <= valid, set(dead["death_cause"]) - valid
    assert {"other_causes"} < set(dead["death_cause"])  # both kinds of death occur


def test_organ_failure_only_in_an_organ_with_a_detected_metastasis(patients):
    failed = patients[patients["death_cause"].str.startswith("organ_failure:")]
    assert len(failed)
    for pid, cause, sites in zip(failed["patient_id"], failed["death_cause"], failed["metastasis_sites"], strict=True):
        organ = cause.split(":", 1)[1]
        assert organ in _sites(sites), (pid, cause, sites)


def test_dmfs_event_is_death_or_first_detection(patients, lesions):
    first = lesions.groupby("patient_id")["detection_day"].min()
    events = patients[patients["dmfs_event"]]
    no_met = events[events["metastasis_sites"] == ""]
    # death without distant metastasis: the DMFS event is the death
    assert no_met["os_event"].all()
    assert (no_met["dmfs_days"] == no_met["os_days"]).all()
    assert (no_met["patient_id"].isin(first.index) == False).all()  # noqa: E712
    met = events[events["metastasis_sites"] != ""]
    assert len(met)
    assert (met["dmfs_days"].to_numpy() == first.reindex(met["patient_id"]).to_numpy()).all()


def test_every_patient_with_a_lesion_has_a_dmfs_event(patients, lesions):
    pids = lesions["patient_id"].unique()
    assert patients.loc[pids, "dmfs_event"].all()
    assert set(pids) == set(patients.index[patients["metastasis_sites"] != ""])


def test_metastasis_sites_are_the_organs_of_her_lesions(patients, lesions):
    by_patient = lesions.groupby("patient_id")
    for pid, grp in by_patient:
        row = patients.loc[pid]
        assert row["metastasis_sites"] == ";".join(sorted(set(grp["organ"]))), pid
        window = grp["detection_day"] <= grp["detection_day"].min() + FIRST_SITES_WINDOW
        expected_first = ";".join(sorted(set(grp.loc[window, "organ"])))
        assert row["first_metastasis_sites"] == expected_first, (pid, grp[["organ", "detection_day"]])
        assert _sites(row["first_metastasis_sites"]) <= _sites(row["metastasis_sites"])
    without = patients[~patients.index.isin(by_patient.groups)]
    assert (without["metastasis_sites"] == "").all() and (without["first_metastasis_sites"] == "").all()


def test_sites_are_sorted_and_unique(patients):
    for col in ("metastasis_sites", "first_metastasis_sites"):
        for text in patients[col]:
            parts = text.split(";") if text else []
            assert parts == sorted(set(parts)), (col, text)


def test_local_and_regional_recurrence_enter_dfs_only(patients):
    reg = patients["regional_recurrence_day"]
    loc = patients["local_recurrence_day"]
    assert reg.notna().any() and loc.notna().any()
    for col in ("regional_recurrence_day", "local_recurrence_day"):
        has = patients[patients[col].notna()]
        assert (has[col] >= 0).all()
        assert (has[col] <= has["os_days"]).all()
        assert has["dfs_event"].all()
    first = np.fmin(np.fmin(reg, loc), patients["dmfs_days"])
    has = patients[reg.notna() | loc.notna()]
    assert (has["dfs_days"] == first[has.index]).all()
    none = patients[reg.isna() & loc.isna()]
    assert (none["dfs_days"] == none["dmfs_days"]).all()
    assert (none["dfs_event"] == none["dmfs_event"]).all()


# ----- stage ------------------------------------------------------------------------------------

def test_m1_is_stage_iv_with_metastasis_at_diagnosis(patients, lesions):
    m1 = patients[patients["M"] == "M1"]
    assert (m1["stage"] == "IV").all()
    assert (m1["dmfs_days"] == 0).all() and m1["dmfs_event"].all()
    assert (m1["metastasis_sites"] != "").all()
    assert set(patients["M"]) <= {"M0", "M1"}
    assert (patients.loc[patients["M"] == "M0", "stage"] != "IV").all()
    at_diagnosis = set(lesions.loc[lesions["detection_day"] == 0, "patient_id"])
    assert at_diagnosis == set(m1["patient_id"])


def test_pn_matches_positive_nodes(patients):
    assert set(patients["pN"]) <= set(PN_POSITIVE)
    for pn, (low, high) in PN_POSITIVE.items():
        pos = patients.loc[patients["pN"] == pn, "positive_nodes"]
        assert ((pos >= low) & (pos <= high)).all(), (pn, pos.min(), pos.max())
    assert (patients["positive_nodes"] >= 0).all()
    assert (patients["positive_nodes"] <= patients["nodes_examined"]).all()
    assert (patients["nodes_examined"] >= 1).all()


def test_pt_matches_tumour_size(patients):
    assert set(patients["pT"]) <= {name for name, _, _ in PT_LIMITS}
    for name, low, high in PT_LIMITS:
        size = patients.loc[patients["pT"] == name, "tumor_size_mm"]
        assert ((size > low) & (size <= high)).all(), (name, size.min(), size.max())


def test_stage_group_follows_ajcc_8th(patients):
    m0 = patients[patients["M"] == "M0"]
    t_group = m0["pT"].str.slice(0, 2)
    expected = [ANATOMIC_STAGE[(t, N_GROUP[n])] for t, n in zip(t_group, m0["pN"], strict=True)]
    assert list(m0["stage"]) == expected


# ----- lesions ----------------------------------------------------------------------------------

def test_lesions_belong_to_patients_and_precede_death(patients, lesions):
    assert lesions["patient_id"].isin(patients.index).all()
    os_days = patients.loc[lesions["patient_id"], "os_days"].to_numpy()
    assert (lesions["detection_day"].to_numpy() <= os_days).all()
    assert ((lesions["detection_day"] >= 0) & (lesions["detection_day"] <= HORIZON)).all()
    assert (lesions["founded_day"] <= lesions["detection_day"]).all()


def test_lesion_fields_are_valid(cohort, lesions):
    assert set(lesions["organ"]) <= set(ORGANS), set(lesions["organ"]) - set(ORGANS)
    assert set(lesions["origin"]) <= {"direct", "dormant", "metastasis"}
    assert set(lesions["clone"]) <= {c.name for c in cohort.scenario.clones}
    assert (lesions["size_mm"] > 0).all()


def test_lesions_do_not_outnumber_colonies(patients, lesions):
    """Lesions seeded by the primary or the nodes (origin direct or dormant) are at most the
    patient's n_colonies; with those seeded by metastases, at most n_colonies + n_secondary_colonies."""
    primary = lesions[lesions["origin"] != "metastasis"].groupby("patient_id").size()
    assert (primary <= patients.loc[primary.index, "n_colonies"]).all()
    per_patient = lesions.groupby("patient_id").size()
    both = patients.loc[per_patient.index, "n_colonies"] + patients.loc[per_patient.index, "n_secondary_colonies"]
    assert (per_patient <= both).all()


def test_lesion_is_at_least_its_organ_detection_size(cohort, lesions):
    """Metastases are found at their organ's detection size, or from staging.workup_detection_fold
    of that size by a staging work-up: at diagnosis, and at the first distant relapse in every organ
    but the brain (clinic.guideline.WORKUP_SKIPS)."""
    organs = OrganTable.from_params(cohort.params)
    detect_mm = lesions["organ"].map(dict(zip(organs.names, organs.detection_mm, strict=True)))
    first = lesions["patient_id"].map(cohort.patients.set_index("patient_id")["distant_metastasis_day"])
    work_up = (lesions["detection_day"] <= 0) | (np.isclose(lesions["detection_day"], first)
                                                  & (lesions["organ"] != "brain"))
    detect_mm = detect_mm.where(~work_up, detect_mm * cohort.params["staging.workup_detection_fold"])
    small = lesions[lesions["size_mm"] < detect_mm * (1 - 1e-6)]
    assert small.empty, small.assign(detection_mm=detect_mm[small.index]).head(10).to_string()


# ----- horizon ----------------------------------------------------------------------------------

def test_shorter_follow_up_only_censors_earlier(patients):
    """follow_up_years = 5 gives the 10-year cohort's histories, administratively censored at 5 years."""
    scenario, _ = load_scenario("default")
    data = scenario.model_dump(mode="python")
    data["cohort"]["follow_up_years"] = 5
    sc5, p5 = scenario_from_dict(data, "<five-year follow-up>")
    assert sc5.cohort.follow_up_years == 5
    n = 300
    five = seedsoil.simulate(sc5, params=p5, patients=n, seed=SEED).patients
    horizon5 = 5 * DAYS_PER_YEAR
    ten = patients.iloc[:n]
    for e in ENDPOINTS:
        t, ev = five[f"{e}_days"], five[f"{e}_event"]
        assert ((t >= 0) & (t <= horizon5)).all()
        assert (t[~ev] == horizon5).all()
        assert (~ev).any() and ev.any()
        t10, ev10 = ten[f"{e}_days"].to_numpy(), ten[f"{e}_event"].to_numpy()
        inside = ev10 & (t10 <= horizon5)
        np.testing.assert_array_equal(ev.to_numpy(), inside, err_msg=e)
        np.testing.assert_array_equal(t.to_numpy(), np.where(inside, t10, horizon5), err_msg=e)
    for col in ("subtype", "tumor_size_mm", "pT", "pN", "M", "stage", "n_colonies"):
        np.testing.assert_array_equal(five[col].to_numpy(), ten[col].to_numpy(), err_msg=col)


# ----- lifelines cross-check --------------------------------------------------------------------

def _km_median_years(days, events) -> float:
    kmf = KaplanMeierFitter().fit(np.asarray(days, float) / DAYS_PER_YEAR, event_observed=np.asarray(events, bool))
    m = float(kmf.median_survival_time_)
    return m if math.isfinite(m) else math.nan


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_median_os_after_relapse_matches_lifelines(cohort, patients):
    got = median_os_after_distant_relapse(patients).set_index("subtype")
    summary = cohort.summary()["median_os_after_distant_relapse_years"]  # relapse after surgery: M0
    rel = patients[patients["dmfs_event"] & (patients["metastasis_sites"] != "")]
    reached = 0
    for subtype, grp in rel.groupby("subtype"):
        expected = _km_median_years(grp["os_days"] - grp["dmfs_days"], grp["os_event"])
        assert int(got.loc[subtype, "n"]) == len(grp)
        assert _same(float(got.loc[subtype, "median_years"]), expected), (subtype, got.loc[subtype], expected)
        m0 = grp[grp["M"] == "M0"]
        expected_m0 = _km_median_years(m0["os_days"] - m0["dmfs_days"], m0["os_event"])
        from_summary = summary[subtype]["median_years"]
        assert _same(math.nan if from_summary is None else from_summary, expected_m0), subtype
        reached += math.isfinite(expected)
    assert reached >= 2, "too few subtypes reach a median for the check to mean anything"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_median_by_subtype_matches_lifelines(patients, endpoint):
    got = median_by_group(patients, f"{endpoint}_days", f"{endpoint}_event", "subtype").set_index("subtype")
    for subtype, grp in patients.groupby("subtype"):
        expected = _km_median_years(grp[f"{endpoint}_days"], grp[f"{endpoint}_event"])
        assert _same(float(got.loc[subtype, "median"]), expected), (endpoint, subtype)
        assert int(got.loc[subtype, "events"]) == int(grp[f"{endpoint}_event"].sum())
