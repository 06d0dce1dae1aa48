"""The SBML export of the bone model (seedsoil.interfaces.sbml) against BoneModel.solve.

Each exported document is loaded in libroadrunner (CVODE, relative tolerance 1e-10, absolute
1e-16) and simulated on the grid BoneModel.solve uses; the trajectories of C, B, z and T must
agree to a relative difference of ``RTOL`` = 1e-4 at every point (the measured differences are
1e-8 to 1e-6). Ayati's set has osteoclast troughs near 5e-6 cells, where solve's default absolute
tolerance (1e-10) alone costs ~6e-4 relative, so it is solved tighter (rtol 1e-10, atol 1e-12).
The agents' effects are compared absolutely (``EFFECT_ATOL``).
"""

from __future__ import annotations

import numpy as np
import pytest

libsbml = pytest.importorskip("libsbml")
roadrunner = pytest.importorskip("roadrunner")

from seedsoil.biology.bone import BoneAgent, BoneModel, BoneParameters, agent_kinetics  # noqa: E402
from seedsoil.interfaces.sbml import SBMLExportError, export_sbml, sbml_document, sbml_string  # noqa: E402
from seedsoil.params import default_parameters  # noqa: E402
from seedsoil.params.bone_sets import bone_model_values  # noqa: E402

RTOL = 1e-4
"""Largest relative difference SBML vs BoneModel.solve allowed on C, B, z and T."""
EFFECT_ATOL = 1e-7
"""Largest absolute difference allowed on the agents' RANKL block and osteoclast death gain."""
RR_RTOL, RR_ATOL = 1e-10, 1e-16
STATES = ("osteoclasts", "osteoblasts", "bone_mass", "tumour")


def _roadrunner(text: str):
    r = roadrunner.RoadRunner(text)
    r.integrator.relative_tolerance = RR_RTOL
    r.integrator.absolute_tolerance = RR_ATOL
    r.integrator.setValue("maximum_num_steps", 100_000)
    return r


def _simulate(model: BoneModel, days: float, t: np.ndarray, *, export_days: float | None = None,
              extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    r = _roadrunner(sbml_string(model, days if export_days is None else export_days))
    states = [s for s in STATES if s != "tumour" or model.params.has_tumour]
    r.timeCourseSelections = ["time", *states, *extra]
    res = r.simulate(times=t)
    assert np.allclose(res[:, 0], t)
    return {name: np.asarray(res[:, i + 1]) for i, name in enumerate([*states, *extra])}


def _max_rel(sbml: dict[str, np.ndarray], course, names) -> dict[str, float]:
    return {n: float(np.max(np.abs(sbml[n] - getattr(course, n)) / np.abs(getattr(course, n)))) for n in names}


def _seedsoil_with_denosumab():
    p = default_parameters()
    params = BoneParameters.from_params(p, pthrp=0.6, rate=7e-4)
    agents = [BoneAgent("denosumab", 120.0, 28.0, start_day=1500.0)]
    return BoneModel(params, agents, agent_kinetics(p))


def test_komarova_single_cycle_matches_solve():
    model = BoneModel(BoneParameters.from_values(bone_model_values("komarova2003")))
    t = np.linspace(0.0, 400.0, 401)
    course = model.solve(400.0, t_eval=t)
    rel = _max_rel(_simulate(model, 400.0, t), course, STATES[:3])
    assert max(rel.values()) < RTOL, rel


def test_ayati_through_the_treatment_switch_matches_solve():
    params = BoneParameters.from_values(bone_model_values("ayati2010"))
    assert params.treatment_day == 600.0
    model = BoneModel(params)
    t = np.linspace(0.0, 1200.0, 1201)
    course = model.solve(1200.0, t_eval=t, rtol=1e-10, atol=1e-12)
    sbml = _simulate(model, 1200.0, t)
    rel = _max_rel(sbml, course, STATES)
    assert max(rel.values()) < RTOL, rel
    # the switch is in the window: the tumour grows before day 600 and shrinks after it
    assert sbml["tumour"][600] > sbml["tumour"][300] and sbml["tumour"][1200] < sbml["tumour"][600]


def test_seedsoil_tumour_with_denosumab_matches_solve():
    model = _seedsoil_with_denosumab()
    t = np.linspace(0.0, 3000.0, 3001)
    course = model.solve(3000.0, t_eval=t)
    sbml = _simulate(model, 3000.0, t, extra=("total_rankl_block", "pthrp_signal"))
    rel = _max_rel(sbml, course, STATES)
    assert max(rel.values()) < RTOL, rel
    assert course.bone_mass.min() < 95.0 and course.rankl_block.max() > 0.1  # the loop and the drug both act
    # doses fall on grid days: compare the effect between doses, where it is continuous
    between = ~np.isin(t, model.agents[0].dose_days(3000.0))
    assert np.max(np.abs(sbml["total_rankl_block"] - course.rankl_block)[between]) < EFFECT_ATOL
    assert np.max(np.abs(sbml["pthrp_signal"] - course.pthrp_signal) / np.maximum(course.pthrp_signal, 1e-30)) < RTOL


def test_open_ended_schedule_and_two_agents_match_solve():
    p = default_parameters()
    params = BoneParameters.from_params(p, pthrp=0.6, rate=7e-4)
    agents = [BoneAgent("zoledronic_acid", 4.0, 28.0, start_day=1500.0),
              BoneAgent("denosumab", 60.0, 56.0, start_day=1000.0, stop_day=2000.0),
              BoneAgent("denosumab", 30.0, 28.0, start_day=10.5)]
    model = BoneModel(params, agents, agent_kinetics(p))
    t = np.r_[0.0, np.arange(0.5, 3000.0, 1.0), 3000.0]  # off the dose days
    course = model.solve(3000.0, t_eval=t)
    extra = ("total_rankl_block", "total_osteoclast_death_gain")
    for export_days in (3000.0, None):  # one event per dose / one recurring event per agent
        sbml = _simulate(model, 3000.0, t, export_days=export_days, extra=extra)
        rel = _max_rel(sbml, course, STATES)
        assert max(rel.values()) < RTOL, (export_days, rel)
        assert np.max(np.abs(sbml["total_rankl_block"] - course.rankl_block)) < EFFECT_ATOL
        assert np.max(np.abs(sbml["total_osteoclast_death_gain"] - course.osteoclast_death_gain)) < EFFECT_ATOL


def test_species_parameters_and_validity(tmp_path):
    model = _seedsoil_with_denosumab()
    path = export_sbml(model, tmp_path / "bone.xml", days=3000.0)
    doc = libsbml.readSBMLFromFile(str(path))
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    doc.checkConsistency()
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    m = doc.getModel()
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    ids = [m.getSpecies(i).getId() for i in range(m.getNumSpecies())]
    assert ids[:4] == ["osteoclasts", "osteoblasts", "bone_mass", "tumour"]
    assert "denosumab_amount" in ids
    for sid in ids[:4]:
        assert m.getRateRule(sid) is not None, sid
    p = model.params
    for name, value in (("k1", p.k1), ("gamma_t", p.gamma_t), ("signal_scale", p.signal_scale),
                        ("tgf_release", p.tgf_release), ("matrix_limited", 1.0), ("treatment_day", np.inf)):
        # libsbml writes doubles with 15 significant digits: equal to that precision
        assert m.getParameter(name).getValue() == pytest.approx(value, rel=1e-14), name
    assert m.getParameter("C_bar").getValue() == pytest.approx(p.steady_state()[0], rel=1e-12)
    assert m.getNumEvents() == len(model.agents[0].dose_days(3000.0))
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file is gone


def test_tumour_free_model_has_three_species():
    m = sbml_document(BoneModel(BoneParameters.from_values(bone_model_values("komarova2003")))).getModel()
    assert [m.getSpecies(i).getId() for i in range(m.getNumSpecies())] == ["osteoclasts", "osteoblasts", "bone_mass"]


def test_steady_state_is_an_initial_assignment():
    """C_bar and B_bar are the closed form as initial assignments: the simulator computes
    Ayati's values, and editing alpha1 there moves them as BoneParameters.steady_state does."""
    params = BoneParameters.from_values(bone_model_values("ayati2010"))
    r = _roadrunner(sbml_string(BoneModel(params)))
    assert (r.getValue("C_bar"), r.getValue("B_bar")) == pytest.approx(params.steady_state(), rel=1e-12)
    r.setValue("init(alpha1)", 4.0)
    assert (r.getValue("C_bar"), r.getValue("B_bar")) == pytest.approx(params.with_(alpha1=4.0).steady_state(),
                                                                       rel=1e-12)


def test_bad_days_is_a_clear_error(tmp_path):
    model = BoneModel(BoneParameters.from_values(bone_model_values("komarova2003")))
    with pytest.raises(SBMLExportError, match=r"days = -1"):
        export_sbml(model, tmp_path / "x.xml", days=-1)
    assert not (tmp_path / "x.xml").exists()


def test_field_the_exporter_does_not_know_is_refused(monkeypatch):
    """A new BoneParameters field away from its default would change the equations: refuse it."""
    import seedsoil.interfaces.sbml as sbml

    monkeypatch.setattr(sbml, "EQUATION_FIELDS", sbml.EQUATION_FIELDS - {"rankl_gain"})
    with pytest.raises(SBMLExportError, match=r"rankl_gain = "):
        sbml.sbml_string(_seedsoil_with_denosumab())


def test_inconsistent_document_is_refused_and_nothing_written(monkeypatch, tmp_path):
    import seedsoil.interfaces.sbml as sbml

    build = sbml._Builder.build

    def broken(self):
        doc = build(self)
        self.rate("no_such_variable", "1")  # a rule for an id the model does not define
        return doc

    monkeypatch.setattr(sbml._Builder, "build", broken)
    target = tmp_path / "bone.xml"
    target.write_text("earlier", encoding="utf-8")
    with pytest.raises(SBMLExportError, match="consistency checks"):
        export_sbml(BoneModel(BoneParameters.from_values(bone_model_values("komarova2003"))), target)
    assert target.read_text(encoding="utf-8") == "earlier"
