"""One patient's journey, told in plain words and drawn on one timeline: the first cell in the
duct, cells reaching the nodes and distant organs, diagnosis and stage, surgery and therapy,
dormancy, relapse with its symptoms, lines of treatment, death or the end of follow-up.

The patient is patient N of a run of the scenario and seed (the same patient whatever the run's
length), or the first patient matching a subtype or histology who relapses; her course comes from
the same engine and clinic as a run (her row of patients.parquet is identical)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedsoil.engine.history import ORIGINS
from seedsoil.engine.streams import BLOCK_PATIENTS, Phase, block_rng
from seedsoil.interfaces.execution import Chunk, _model, block_history, simulate_chunk, to_arrow_table
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario

DAYS_PER_YEAR = 365.25
SEARCH_BLOCKS = 20
"""Blocks of patients searched for one matching ``subtype``/``histology`` (who relapses, if any does)."""
THERAPY_DAYS = {"chemotherapy": "treatment.chemo_days", "anti_her2": "treatment.anti_her2_days",
                "her2_tki": "treatment.her2_tki_days", "bone_agent": "treatment.bone_agent_days"}
THERAPY_WORDS = {"chemotherapy": "chemotherapy", "endocrine": "endocrine (hormone) therapy",
                 "anti_her2": "anti-HER2 antibody (trastuzumab)", "her2_tki": "a HER2 kinase inhibitor",
                 "bone_agent": "a bone-strengthening drug", "radiotherapy": "radiotherapy to the breast"}
ORGAN_WORDS = {"distant_nodes": "distant lymph nodes", "gi_tract": "bowel", "skin_soft_tissue": "skin",
               "peritoneum": "lining of the abdomen (peritoneum)", "pleura": "lining of the lung (pleura)"}
SUBTYPE_WORDS = {"luminal_a": "luminal A", "luminal_b": "luminal B", "her2": "HER2-enriched",
                 "triple_negative": "triple-negative"}


def _organ(o: str) -> str:
    return ORGAN_WORDS.get(o, o)


@dataclass
class Journey:
    """Patient ``patient_id`` of ``scenario`` at ``seed``: her row of patients.parquet, her
    detected metastases, her hidden history (``hidden``: first cell, first nodal deposit, first
    distant colony, dormant cells at surgery) and the timeline (``events``: day from diagnosis,
    age, phase, plain-language text)."""

    patient_id: int
    scenario: str
    seed: int
    patient: pd.Series
    lesions: pd.DataFrame
    hidden: dict
    events: pd.DataFrame
    params: ParameterSet

    def story(self) -> str:
        head = (f"Patient {self.patient_id} of scenario {self.scenario!r} (seed {self.seed}): "
                f"{SUBTYPE_WORDS[self.patient['subtype']]} breast cancer")
        lines = [head, "=" * len(head)]
        for e in self.events.itertuples():
            when = ("at diagnosis" if abs(e.day) < 0.5 else
                    f"{abs(e.day) / DAYS_PER_YEAR:4.1f} years {'before' if e.day < 0 else 'after'} diagnosis")
            lines.append(f"{when:>30}  (age {e.age:4.1f})  {e.text}")
        return "\n".join(lines)

    def figure(self):
        from seedsoil.interfaces.plots import journey_figure

        return journey_figure(self)


def _find(sc: Scenario, p: ParameterSet, engine: str, seed: int, subtype: str | None,
          histology: str | None) -> int:
    fallback = None
    for b in range(SEARCH_BLOCKS):
        out = simulate_chunk(sc, p, engine, seed, Chunk(b, b * BLOCK_PATIENTS, (b + 1) * BLOCK_PATIENTS))
        pat = out.patients.select(["patient_id", "subtype", "histology", "distant_metastasis_day", "M"]).to_pandas()
        ok = np.ones(len(pat), dtype=bool)
        if subtype is not None:
            ok &= (pat["subtype"] == subtype).to_numpy()
        if histology is not None:
            ok &= (pat["histology"] == histology).to_numpy()
        relapsed = ok & pat["distant_metastasis_day"].notna().to_numpy() & (pat["M"] == "M0").to_numpy()
        if relapsed.any():
            return int(pat["patient_id"].to_numpy()[relapsed][0])
        if fallback is None and ok.any():
            fallback = int(pat["patient_id"].to_numpy()[ok][0])
    if fallback is None:
        raise ValueError(f"no patient with subtype {subtype!r} and histology {histology!r} among the first "
                         f"{SEARCH_BLOCKS * BLOCK_PATIENTS:,} patients of this scenario")
    return fallback


def journey(sc: Scenario, p: ParameterSet, engine: str, seed: int, patient: int | None = None,
            subtype: str | None = None, histology: str | None = None) -> Journey:
    """The journey of patient ``patient`` (or the first relapsing patient who matches)."""
    if patient is None:
        patient = _find(sc, p, engine, seed, subtype, histology)
    block, row = divmod(int(patient), BLOCK_PATIENTS)
    eng, clinic = _model(sc, p, engine)
    h, st, plan = block_history(eng, clinic, block, seed, np.array([row]))  # her history, as in a run
    out = clinic.course(h, st, plan, block_rng(seed, block, Phase.CLINIC))
    pat = to_arrow_table(out.patients, "patients").to_pandas().iloc[0]
    les = to_arrow_table(out.lesions, "lesions").to_pandas()
    t_dx = float(h.primary.diagnosis_day[0])
    col, dep, dorm = h.colonies, h.deposits, h.dormant
    hidden = {
        "first_cell_day": -t_dx,
        "diagnosis_cells": float(h.primary.diagnosis_cells[0]),
        "primary_rate": float(h.primary.law.rate[0]), "capacity": float(h.primary.law.capacity),
        "n0": float(h.primary.law.n0),
        "first_deposit_day": float(dep.founded.min() - t_dx) if len(dep) else None,
        "deposits_at_surgery": int(len(dep)),
        "colonies": [(float(f - t_dx), clinic.organs.names[o], ORIGINS[g])
                     for f, o, g in sorted(zip(col.founded, col.organ, col.origin, strict=True))],
        "dormant_at_surgery": {clinic.organs.names[o]: int(c) for o, c in
                               pd.Series(dorm.count).groupby(dorm.organ).sum().items()} if len(dorm) else {},
    }
    return Journey(patient_id=int(patient), scenario=sc.name, seed=seed, patient=pat, lesions=les, hidden=hidden,
                   events=_events(pat, les, hidden, p), params=p)


def _events(pat: pd.Series, les: pd.DataFrame, hid: dict, p: ParameterSet) -> pd.DataFrame:
    age0 = float(pat["age_at_diagnosis"])
    ev: list[tuple[float, str, str]] = []

    def add(day: float, phase: str, text: str) -> None:
        ev.append((float(day), phase, text))

    add(hid["first_cell_day"], "before diagnosis",
        "The first cancer cell divides in a milk duct of the breast; nobody can know yet.")
    if hid["first_deposit_day"] is not None:
        add(hid["first_deposit_day"], "before diagnosis",
            "Cancer cells leave the tumour through lymph vessels and settle in a lymph node in the armpit.")
    pre = [c for c in hid["colonies"] if c[0] <= 0]
    if pre:
        d, organ, _ = pre[0]
        more = f" ({len(pre)} colonies by diagnosis)" if len(pre) > 1 else ""
        add(d, "before diagnosis", f"A cell carried by the blood starts a tiny colony in the {_organ(organ)}{more}; "
                                   "it is far too small for any scan.")
    hist = "lobular" if pat["histology"] == "ilc" else "ductal"
    rec = ", ".join(f"{k.upper()}{'+' if pat[k] else '-'}" for k in ("er", "pr", "her2"))
    nodes = (f"{int(pat['positive_nodes'])} of {int(pat['nodes_examined'])} lymph nodes removed contain cancer"
             if pat["nodes_examined"] else "no lymph nodes were examined")
    stage = f"stage {pat['stage']} ({pat['pT']} {pat['pN']} {pat['M']})"
    ctc = int(pat["ctc_7_5ml"])
    add(0.0, "diagnosis", f"Diagnosis: a {pat['tumor_size_mm']:.0f} mm invasive {hist} cancer, grade "
                          f"{int(pat['grade'])}, {rec} ({SUBTYPE_WORDS[pat['subtype']]}); {nodes}; {stage}. "
                          f"A 7.5 mL blood sample holds {ctc} circulating tumour cell{'s' * (ctc != 1)}.")
    if hid["dormant_at_surgery"]:
        where = ", ".join(f"{n:,} in the {_organ(o)}" for o, n in sorted(hid["dormant_at_surgery"].items(),
                                                                         key=lambda kv: -kv[1])[:3])
        add(0.0, "diagnosis", f"Unseen, single cancer cells lie asleep (dormant) in distant organs: {where}.")
    if pat["M"] == "M1":
        add(0.0, "diagnosis", "The scans at diagnosis already show metastases (de novo stage IV).")
    else:
        surgery = "breast-conserving surgery" if pat["surgery"] == "bcs" else "mastectomy"
        given = [THERAPY_WORDS[k] for k in ("radiotherapy", "chemotherapy", "anti_her2", "her2_tki", "bone_agent")
                 if bool(pat[k])]
        if bool(pat["endocrine"]):
            given.append(f"{THERAPY_WORDS['endocrine']} for {pat['endocrine_years']:g} years")
        add(1.0, "treatment", f"Treatment: {surgery}" + (f", then {', '.join(given)}." if given
                                                         else "; no further therapy."))
    woke = [c for c in hid["colonies"] if c[0] > 0 and c[2] == "dormant"]
    if woke:
        d, organ, _ = woke[0]
        add(d, "after surgery", f"A cancer cell asleep in the {_organ(organ)} wakes up and starts to grow.")
    for col, what in (("local_recurrence_day", "The cancer comes back in the treated breast or chest wall."),
                      ("regional_recurrence_day", "The cancer comes back in lymph nodes near the breast.")):
        if np.isfinite(pat[col]):
            add(pat[col], "recurrence", what)
    if np.isfinite(pat["distant_metastasis_day"]):
        first = les[les["detection_day"] <= pat["distant_metastasis_day"] + p["followup.first_sites_window_days"]]
        sites = ", ".join(dict.fromkeys(_organ(o) for o in first["organ"]))
        symptoms = "; ".join(dict.fromkeys(s for s in first["symptoms"] if s))
        add(pat["distant_metastasis_day"], "metastatic",
            f"Metastases are found in the {sites}" + (f" (they cause {symptoms})." if symptoms else "."))
        later = les[les["detection_day"] > pat["distant_metastasis_day"] + p["followup.first_sites_window_days"]]
        seen = set(first["organ"])
        for organ, g in later.groupby("organ", sort=False):
            what = "Another metastasis is found" if organ in seen else "The cancer spreads: a metastasis appears"
            add(g["detection_day"].min(), "metastatic", f"{what} in the {_organ(organ)}"
                + (f" ({g['symptoms'].iloc[0]})." if g["symptoms"].iloc[0] else "."))
        if pat["metastatic_lines"]:
            n = int(pat["metastatic_lines"])
            add(pat["distant_metastasis_day"] + 1.0, "metastatic",
                f"She receives {n} line{'s' * (n != 1)} of treatment for metastatic disease"
                + (f", with {pat['metastatic_bone_agent'].replace('_', ' ')} for the bones."
                   if pat["metastatic_bone_agent"] != "none" else "."))
    if np.isfinite(pat["skeletal_event_day"]):
        add(pat["skeletal_event_day"], "metastatic",
            f"A skeletal event: {pat['skeletal_event'].replace('_', ' ')}.")
    if pat["os_event"]:
        cause = pat["death_cause"]
        why = (f"of the cancer in her {_organ(cause.split(':', 1)[1])}" if cause.startswith("organ_failure")
               else "of another cause")
        add(pat["os_days"], "end", f"She dies {why}.")
    else:
        add(pat["os_days"], "end", "End of follow-up: she is alive"
            + (" with metastatic disease." if np.isfinite(pat["distant_metastasis_day"]) else
               (" and free of cancer as far as anyone can tell." if not pat["dfs_event"] else ".")))
    df = pd.DataFrame(ev, columns=["day", "phase", "text"]).sort_values("day", kind="stable").reset_index(drop=True)
    df.insert(1, "age", age0 + df["day"] / DAYS_PER_YEAR)
    return df
