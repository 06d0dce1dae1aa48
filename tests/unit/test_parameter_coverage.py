"""Parameter coverage (issue 12, part 6): every parameter of the registry is read by the model, and
every group of names the code reads holds at least one parameter. Reads are recorded while the
model runs every validation variant (both eras, every therapy switch, both metastatic bone
agents), the per-cell engine, the mouse assays with the cluster comparison, both bone models and
every organ profile, so a parameter that nothing reads (kept in the table but silently ignored, as
the old ``trait.<subtype>.her2`` rows were) fails this test."""

from __future__ import annotations

import pytest

import seedsoil
from seedsoil.analysis.targets import RUNS
from seedsoil.biology.traits import subtype_traits
from seedsoil.engine.assay import metastatic_potential
from seedsoil.interfaces import organ
from seedsoil.interfaces.assays import run_assay
from seedsoil.interfaces.validation import variant_scenario
from seedsoil.params import default_parameters
from seedsoil.params.registry import ParameterSet


@pytest.fixture(scope="module")
def reads():
    names, empty_groups = set(), []
    get, group = ParameterSet.__getitem__, ParameterSet.group

    def recording_get(self, name):
        names.add(name)
        return get(self, name)

    def recording_group(self, prefix):
        out = group(self, prefix)
        if not out:
            empty_groups.append(prefix)
        names.update(f"{prefix.rstrip('.')}.{k}" for k in out)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ParameterSet, "__getitem__", recording_get)
        mp.setattr(ParameterSet, "group", recording_group)
        for run in RUNS:
            seedsoil.simulate(variant_scenario(run), patients=1500, seed=1, workers=1)
        seedsoil.simulate("small", patients=10, seed=1, engine="reference", workers=1)
        for assay in ("intravenous", "intraportal", "intracardiac", "orthotopic"):
            run_assay(assay, cells=20_000)
        metastatic_potential(samples=2000)
        reg = default_parameters()
        for model in ("komarova2003", "ayati2010"):
            organ.run_bone(model, reg, days=100)
        for name in organ.ORGANS:
            organ.organ_profile(name, reg)
    return names, empty_groups


def test_every_registry_parameter_is_read(reads):
    names, _ = reads
    unread = sorted(set(default_parameters()) - names)
    assert not unread, f"{len(unread)} parameters nothing reads: {unread[:10]}"


def test_every_group_the_code_reads_exists(reads):
    _, empty = reads
    assert not empty, f"the code reads parameter groups that hold no parameter: {sorted(set(empty))}"


def test_a_subtype_trait_row_the_model_would_ignore_is_refused():
    p = default_parameters()
    fake = ParameterSet({**{n: p.meta(n) for n in p}, "trait.her2.her2": p.meta("trait.her2.cxcr4")})
    with pytest.raises(ValueError, match="trait.her2.her2 is not a subtype trait"):
        subtype_traits(fake, "her2", er=False, her2=True, lobular=False)
    with pytest.raises(Exception, match="unknown parameter"):
        p.with_overrides({"trait.her2.her2": 0.5})
