"""Every therapy acts through its mechanism, in the direction it should, on the same patients
(paired arms: the streams of what happens after surgery are the only ones that differ).

Statistical checks at fixed seeds; each states its tolerance. Counts are of patients, so the
binomial noise of a difference between two arms of n patients with k events is about sqrt(k)."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

import seedsoil
from seedsoil.scenario import load_builtin

PATIENTS = 6000
SEED = 5
YEAR = 365.25


def _arm(**treatment):
    sc, _ = load_builtin("default")
    return sc.model_copy(update={"treatment": sc.treatment.model_copy(update=treatment)})


_CACHE: dict = {}


def run(patients: int = PATIENTS, **treatment):
    key = (patients,) + tuple(sorted(treatment.items()))
    if key not in _CACHE:
        _CACHE[key] = seedsoil.simulate(_arm(**treatment), patients=patients, seed=SEED, workers=1).patients
    return _CACHE[key]


def distant(p, mask):
    return int((np.isfinite(p["distant_metastasis_day"].to_numpy()) & mask).sum())


def fewer(on: int, off: int, z: float = 2.0) -> bool:
    """``on`` is below ``off`` by more than ``z`` binomial standard errors of the difference."""
    return off - on > z * np.sqrt(max(on + off, 1))


def same(a: int, b: int, z: float = 3.0) -> bool:
    """``a`` and ``b`` differ by less than ``z`` standard errors: the arms' post-surgical streams
    are drawn for the whole block, so a therapy given to other patients of the block reshuffles
    this patient's later draws without changing their law."""
    return abs(a - b) < z * np.sqrt(max(a + b, 1))


def test_pairing_same_patients_before_surgery():
    a, b = run(era="1990", chemotherapy=True), run(era="1990", chemotherapy=False)
    for col in ("subtype", "tumor_size_mm", "pN", "M", "menopausal", "ctc_7_5ml"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)


def test_chemotherapy_reduces_distant_and_local_relapse():
    """Chemotherapy kills growing colonies (Norton-Simon, unit-tested in test_therapy.py) and
    residual disease; at 10 years it removes about 13% of distant relapses in every subtype
    (measured at 20,000 patients: 0.86-0.88), because colonies large at surgery are delayed
    rather than cured."""
    on, off = run(era="1990", chemotherapy=True, endocrine=False), run(era="1990", chemotherapy=False, endocrine=False)
    everyone = np.ones(len(on), dtype=bool)
    assert fewer(distant(on, everyone), distant(off, everyone))
    local = lambda p: int((p["local_recurrence_day"].notna() | p["regional_recurrence_day"].notna()).sum())  # noqa: E731
    assert fewer(local(on), local(off))


def test_endocrine_therapy_acts_on_er_positive_disease_only():
    on, off = run(era="1990", endocrine=True), run(era="1990", endocrine=False)
    hr = (on["er"] | on["pr"]).to_numpy()
    assert fewer(distant(on, hr), distant(off, hr))
    assert same(distant(on, ~hr), distant(off, ~hr))


def test_anti_her2_reduces_relapse_but_not_in_the_brain():
    n = 3 * PATIENTS  # about 12% of patients are HER2+
    on, off = run(n, chemotherapy=True, anti_her2=True), run(n, chemotherapy=True, anti_her2=False)
    her2 = on["her2"].to_numpy()
    assert fewer(distant(on, her2), distant(off, her2))
    brain = lambda p: (p["metastasis_sites"].str.contains("brain").to_numpy() & her2).sum()  # noqa: E731
    other = lambda p: (np.isfinite(p["distant_metastasis_day"].to_numpy()) & her2  # noqa: E731
                       & ~p["first_metastasis_sites"].str.contains("brain").to_numpy()).sum()
    # the sanctuary: relapses outside the brain fall by a larger share than brain metastases
    assert brain(on) / max(brain(off), 1) > other(on) / max(other(off), 1)


def test_bone_agent_acts_after_menopause_only():
    on, off = run(bone_agent=True), run(bone_agent=False)
    post = on["menopausal"].to_numpy() == "post"
    bone = lambda p: (p["first_metastasis_sites"].str.contains("bone").to_numpy() & post).sum()  # noqa: E731
    assert bone(on) < bone(off)
    pre = ~post  # premenopausal effect 0 (EBCTCG 2015)
    assert same(distant(on, pre), distant(off, pre))
    assert (on["bone_agent"].to_numpy() & pre).any()  # given, without effect


def test_radiotherapy_controls_residual_disease_in_the_breast():
    on, off = run(era="1990", surgery="bcs", radiotherapy=True), run(era="1990", surgery="bcs", radiotherapy=False)
    local = lambda p: int(p["local_recurrence_day"].notna().sum())  # noqa: E731
    assert fewer(local(on), local(off), z=4.0)
    mast = run(era="1990", surgery="mastectomy", radiotherapy=False)
    assert local(mast) < local(off)  # mastectomy leaves less behind


def _median_after(p, mask):
    days = (p["os_days"] - p["distant_metastasis_day"]).to_numpy()[mask]
    return KaplanMeierFitter().fit(np.clip(days, 0, None) / YEAR, p["os_event"].to_numpy()[mask]).median_survival_time_


def test_modern_metastatic_lines_lengthen_survival_after_relapse():
    modern, old, none = run(), run(era="1990"), run(metastatic="none")
    for p in (modern, old, none):
        assert (p["metastatic_lines"] > 0).sum() > 0 or p is none
    assert (none["metastatic_lines"] == 0).all()
    her2 = lambda p: (p["her2"].to_numpy() & np.isfinite(p["distant_metastasis_day"].to_numpy()))  # noqa: E731
    assert _median_after(modern, her2(modern)) > 1.5 * _median_after(old, her2(old))
    met = np.isfinite(modern["distant_metastasis_day"].to_numpy())
    assert _median_after(modern, met) > _median_after(none, np.isfinite(none["distant_metastasis_day"].to_numpy()))


def test_de_novo_stage_iv_patients_are_not_dead_on_arrival():
    p = run()
    m1 = (p["M"] == "M1").to_numpy()
    assert m1.sum() > 50
    early = (p["os_event"].to_numpy() & (p["os_days"].to_numpy() < 30) & m1).sum()
    assert early / m1.sum() < 0.05  # registries: a few percent at most
    assert (p["distant_metastasis_day"].to_numpy()[m1] == 0).all()
    assert not (p["chemotherapy"].to_numpy()[m1] | p["endocrine"].to_numpy()[m1]).any()


def test_luminal_b_relapses_die_sooner_than_luminal_a_in_era_1990():
    p = run(era="1990")
    met = np.isfinite(p["distant_metastasis_day"].to_numpy()) & (p["M"] == "M0").to_numpy()
    a = _median_after(p, met & (p["subtype"] == "luminal_a").to_numpy())
    b = _median_after(p, met & (p["subtype"] == "luminal_b").to_numpy())
    assert a > b


@pytest.mark.parametrize("bad", [{"era": "2000"}, {"endocrine": "yes"}, {"endocrine_years": -1},
                                 {"endocrine_years": 16}, {"chemo": True}])
def test_bad_treatment_tables_are_refused(bad):
    from seedsoil.scenario import ScenarioError, scenario_from_dict

    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"treatment": bad}, "trial.toml")
    assert str(err.value).startswith("trial.toml: treatment.") and "\n" not in str(err.value)


def test_a_therapy_nobody_can_receive_runs_with_a_warning(tmp_path):
    from seedsoil.scenario import load_scenario

    f = tmp_path / "her2_negative.toml"
    f.write_text('[cohort]\nsubtype_shares = { luminal_a = 0.6, luminal_b = 0.0, her2 = 0.0, triple_negative = 0.4 }\n'
                 "[treatment]\nanti_her2 = true\n", encoding="utf-8")
    said: list[str] = []
    sc, _ = load_scenario(f, on_warning=said.append)
    assert sc.treatment.anti_her2 is True
    assert len(said) == 1 and "treatment.anti_her2 = true" in said[0] and "no HER2-positive" in said[0]
    f.write_text("[treatment]\nanti_her2 = true\n", encoding="utf-8")
    said.clear()
    load_scenario(f, on_warning=said.append)
    assert said == []  # the default cohort has HER2-positive patients


def test_cli_refuses_a_bad_treatment_table_and_writes_nothing(tmp_path):
    import subprocess
    import sys

    f = tmp_path / "bad.toml"
    f.write_text('[treatment]\nera = "2000"\n', encoding="utf-8")
    out = tmp_path / "out"
    entry = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
    proc = subprocess.run([*entry, "run", str(f), "--out", str(out), "--patients", "10"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "treatment.era = '2000'" in lines[0] and "'1990' or 'modern'" in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_her2_kinase_inhibitor_reaches_the_brain_partly_and_the_antibody_not_at_all():
    """On the same block's colonies (the therapy clock draws nothing): brain colonies of HER2+
    patients are never found sooner with a HER2 kinase inhibitor and some are found later or
    eradicated; the antibody alone leaves them exactly as without it (the sanctuary)."""
    from seedsoil.biology.growth import Gompertz
    from seedsoil.biology.organs import OrganTable
    from seedsoil.clinic import Clinic
    from seedsoil.engine import get_engine

    sc, p = load_builtin("default")
    eng = get_engine("fast")(sc, p)
    h = eng.simulate_block(0, SEED)
    c = h.colonies
    never = np.full(len(h), np.inf)

    def brain_detection(**treatment):
        s = _arm(**treatment)
        clinic = Clinic(p, OrganTable.from_params(p), s.cohort.follow_up_years, s.treatment)
        plan = clinic.plan(h, clinic.stage(h))
        law = Gompertz(rate=c.rate, capacity=clinic.capacity)
        clock = clinic._adjuvant_clock(h, plan, c.row, law, c.founded, c.luck, c.organ, "colony", never)
        return clock.first_reach(law.time_to(clinic.detect_cells[c.organ]))

    brain = (c.organ == OrganTable.from_params(p).names.index("brain")) & h.covariates.her2[c.row]
    assert brain.sum() > 5
    off = brain_detection(chemotherapy=False, anti_her2=False, her2_tki=False, endocrine=False)[brain]
    antibody = brain_detection(chemotherapy=False, anti_her2=True, her2_tki=False, endocrine=False)[brain]
    tki = brain_detection(chemotherapy=False, anti_her2=True, her2_tki=True, endocrine=False)[brain]
    np.testing.assert_array_equal(antibody, off)
    assert (tki >= off).all() and (tki > off).any()
