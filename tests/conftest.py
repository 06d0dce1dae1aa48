"""Shared fixtures: small synthetic result tables that follow docs/schema.md (no engine needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedsoil.analysis.funnel import STAGES
from seedsoil.scenario import SUBTYPES

SYNTHETIC_PATIENTS = 200
SYNTHETIC_SEED = 12345
FOLLOW_UP_DAYS = 3652.5
ORGANS = ("bone", "lung", "liver", "brain", "pleura")
ORGAN_PROB = (0.6, 0.3, 0.25, 0.1, 0.05)


def _synthetic_tables(n: int = SYNTHETIC_PATIENTS, seed: int = SYNTHETIC_SEED) -> dict[str, pd.DataFrame]:
    """Patients, lesions, blood-draw and funnel tables with the schema's columns and dtypes, random but fixed."""
    rng = np.random.default_rng(seed)
    subtype = rng.choice(SUBTYPES, size=n, p=[0.5, 0.25, 0.12, 0.13])
    er = np.isin(subtype, ["luminal_a", "luminal_b"])
    her2 = subtype == "her2"
    relapsed = rng.random(n) < 0.3
    relapse_day = rng.uniform(30.0, FOLLOW_UP_DAYS, n)
    death_after = rng.exponential(900.0, n)
    other_death = rng.random(n) < 0.05
    other_day = rng.uniform(100.0, FOLLOW_UP_DAYS, n)

    sites, first_sites, os_days, os_event, dmfs_days, dmfs_event, cause = [], [], [], [], [], [], []
    lesion_rows = []
    for i in range(n):
        if relapsed[i]:
            organs = [o for o, p in zip(ORGANS, ORGAN_PROB, strict=True) if rng.random() < p] or ["bone"]
            organs = sorted(organs)
            sites.append(";".join(organs))
            first_sites.append(organs[0])
            death = relapse_day[i] + death_after[i]
            dead = death < FOLLOW_UP_DAYS
            os_days.append(min(death, FOLLOW_UP_DAYS))
            os_event.append(dead)
            dmfs_days.append(relapse_day[i])
            dmfs_event.append(True)
            cause.append(f"organ_failure:{organs[0]}" if dead else "")
            for k, organ in enumerate(organs):
                lesion_rows.append({"patient_id": i, "organ": organ, "detection_day": relapse_day[i] + 30.0 * k,
                                    "size_mm": float(rng.uniform(5, 40)), "clone": "main",
                                    "founded_day": float(-rng.uniform(0, 2000)),
                                    "origin": "dormant" if rng.random() < 0.4 else "direct",
                                    "symptoms": "bone pain" if organ == "bone" else ""})
        else:
            sites.append("")
            first_sites.append("")
            dead = bool(other_death[i])
            t = other_day[i] if dead else FOLLOW_UP_DAYS
            os_days.append(t)
            os_event.append(dead)
            dmfs_days.append(t)
            dmfs_event.append(dead)  # STEEP: death without metastasis is a DMFS event
            cause.append("other_causes" if dead else "")

    regional = np.where(rng.random(n) < 0.05, rng.uniform(100, 2000, n), np.nan)
    distant = np.where(relapsed, relapse_day, np.nan)
    therapy = {t: rng.random(n) < 0.5 for t in ("endocrine", "chemotherapy", "anti_her2", "her2_tki", "bone_agent",
                                               "radiotherapy")}
    patients = pd.DataFrame({
        "patient_id": np.arange(n, dtype=np.int64),
        "subtype": subtype.astype(object),
        "histology": rng.choice(["idc", "ilc"], size=n, p=[0.88, 0.12]).astype(object),
        "er": er, "pr": er & (rng.random(n) < 0.8), "her2": her2,
        "age_at_diagnosis": rng.uniform(25, 90, n),
        "tumor_size_mm": rng.lognormal(np.log(15), 0.5, n),
        "grade": rng.integers(1, 4, n).astype(np.int64),
        "menopausal": rng.choice(["pre", "post"], size=n).astype(object),
        "tmem_score": rng.gamma(2.0, 5.0, n),
        "positive_nodes": rng.poisson(0.8, n).astype(np.int64),
        "nodes_examined": rng.integers(1, 20, n).astype(np.int64),
        "pT": rng.choice(["T1a", "T1b", "T1c", "T2", "T3"], size=n).astype(object),
        "pN": rng.choice(["pN0", "pN0(i+)", "pN1mi", "pN1a"], size=n).astype(object),
        "M": np.full(n, "M0", dtype=object),
        "stage": rng.choice(["IA", "IB", "IIA", "IIB", "IIIA"], size=n).astype(object),
        "surgery": rng.choice(["bcs", "mastectomy"], size=n).astype(object),
        "endocrine": therapy["endocrine"], "endocrine_years": np.where(therapy["endocrine"], 5.0, 0.0),
        "chemotherapy": therapy["chemotherapy"], "anti_her2": therapy["anti_her2"], "her2_tki": therapy["her2_tki"],
        "bone_agent": therapy["bone_agent"], "radiotherapy": therapy["radiotherapy"],
        "dfs_days": np.minimum(np.array(dmfs_days), np.nan_to_num(regional, nan=np.inf)),
        "dmfs_days": np.array(dmfs_days, dtype=float),
        "os_days": np.array(os_days, dtype=float),
        "dfs_event": np.array(dmfs_event) | ~np.isnan(regional),
        "dmfs_event": np.array(dmfs_event, dtype=bool),
        "os_event": np.array(os_event, dtype=bool),
        "death_cause": np.array(cause, dtype=object),
        "first_metastasis_sites": np.array(first_sites, dtype=object),
        "metastasis_sites": np.array(sites, dtype=object),
        "local_recurrence_day": np.full(n, np.nan),
        "regional_recurrence_day": regional,
        "distant_metastasis_day": distant,
        "metastatic_lines": np.where(relapsed, 1, 0).astype(np.int64),
        "n_colonies": rng.poisson(1.0, n).astype(np.int64) + relapsed.astype(np.int64),
        "n_secondary_colonies": np.zeros(n, dtype=np.int64),
        "ctc_7_5ml": rng.poisson(0.5, n).astype(np.int64),
        "dtc_bone_marrow": rng.poisson(0.4, n).astype(np.int64),
        "ctc_at_relapse_7_5ml": np.where(np.isfinite(distant), rng.poisson(3.0, n), np.nan),
        "metastatic_bone_agent": np.full(n, "none", dtype=object),
        "skeletal_event_day": np.full(n, np.nan),
        "skeletal_event": np.full(n, "", dtype=object),
        "symptoms": np.array(["bone pain" if "bone" in s else "" for s in sites], dtype=object),
    })
    lesions = pd.DataFrame(lesion_rows, columns=["patient_id", "organ", "detection_day", "size_mm", "clone",
                                                 "founded_day", "origin", "symptoms"]).astype({"patient_id": "int64"})

    funnel_rows = [("shed", "all", 10**9), ("entered_lymph", "axillary_nodes", 10**6),
                   ("entered_blood", "all", 10**8), ("survived_circulation", "all", 10**6)]
    per_organ = {"arrested": 10**5, "extravasated": 10**4, "dormant": 10**3, "micrometastases": 100,
                 "colonies": 10, "detected": 2}
    for stage, base in per_organ.items():
        funnel_rows += [(stage, organ, base * (k + 1)) for k, organ in enumerate(ORGANS)]
    assert {r[0] for r in funnel_rows} == set(STAGES)
    funnel = pd.DataFrame(funnel_rows, columns=["stage", "organ", "count"]).astype({"count": "int64"})
    drawn = np.flatnonzero(patients["os_days"].to_numpy() > 365.0)
    ctc_draws = pd.DataFrame({"patient_id": np.repeat(drawn, 2).astype(np.int64),
                              "day": np.tile([0.0, 365.0], len(drawn)),
                              "ctc_7_5ml": rng.poisson(0.3, 2 * len(drawn)).astype(np.int64),
                              "expected_ctc": np.full(2 * len(drawn), 0.3)})
    return {"patients": patients, "lesions": lesions, "ctc_draws": ctc_draws, "funnel": funnel}


@pytest.fixture
def synthetic_tables() -> dict[str, pd.DataFrame]:
    """Fresh synthetic patients/lesions/funnel tables (about 200 patients, fixed seed)."""
    return _synthetic_tables()
