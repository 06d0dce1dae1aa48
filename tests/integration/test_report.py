"""The HTML report (issue 13, part 1): one self-contained page per result folder. Checked here
without a browser: every section of a run's report is there, every figure is an embedded PNG
that decodes, nothing points outside the file (no http(s) source, link or stylesheet), the
numbers it states are the folder's; a trial, a validation and a twins folder each get theirs;
folders with nothing to report, half-written runs and runs of a newer seedsoil get one error line
and exit 2. (The real-browser tests of part 3 are not written yet.)"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

import seedsoil
from seedsoil.interfaces.report import REPORT_FILE, ReportError, write_report

ENTRY = [sys.executable, "-c", "from seedsoil.interfaces.cli import main; main()"]
PATIENTS = 3000
SEED = 3
RUN_SECTIONS = ("Run", "Scenario", "Cohort", "Survival", "Sites of relapse", "The metastatic cascade",
                "Survival after relapse by site", "A few patients' journeys")


def _self_contained(text: str) -> list[bytes]:
    """The embedded PNGs of a page, after checking that it refers to nothing outside itself."""
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", text, flags=re.I)
    assert "<link" not in text.lower() and "<script" not in text.lower()
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    pngs = [base64.b64decode(s.split(",", 1)[1]) for s in srcs]
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" and len(p) > 2000 for p in pngs)
    return pngs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    res = subprocess.run([*ENTRY, "run", "-n", str(PATIENTS), "-s", str(SEED), "--out", str(out), "--report",
                          "--workers", "1"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def test_run_report_has_every_section_and_embeds_its_figures(run_dir):
    text = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    for section in RUN_SECTIONS:
        assert f"<h2>{section.replace(chr(39), '&#x27;')}</h2>" in text or f"<h2>{section}</h2>" in text, section
    pngs = _self_contained(text)
    assert len(pngs) >= 3 + 2 + 2 + 1  # KM by subtype x3, by stage x2, sites, funnel, journeys
    assert f"{PATIENTS:,} patients" in text and str(SEED) in text
    p = pd.read_parquet(run_dir / "patients.parquet")
    stage_iv = int((p["stage"] == "IV").sum())
    assert re.search(rf"<td>IV</td>\s*<td>{stage_iv}</td>", text)
    assert text.count("<h3>Patient ") == 3


def test_scenario_changes_are_listed(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('name = "changed"\n[treatment]\nera = "1990"\n[parameters]\n"homing.cxcr4_strength" = 3.0\n')
    out = tmp_path / "run"
    seedsoil.run(str(toml), out, patients=1500, seed=1, workers=1)
    text = write_report(out).read_text(encoding="utf-8")
    assert "treatment.era" in text and "parameters.homing.cxcr4_strength" in text and "<td>3</td>" in text


def test_trial_validation_and_twins_reports(tmp_path):
    from seedsoil.analysis.targets import load_targets
    from seedsoil.interfaces.validation import validate

    trial = tmp_path / "trial.toml"
    trial.write_text('name = "t"\n[design]\npatients = 300\nendpoints = ["dmfs"]\n'
                     '[[arms]]\nname = "guideline"\n[[arms]]\nname = "none"\ntreatment = { adjuvant = "none" }\n')
    seedsoil.trial(str(trial), out=tmp_path / "t", workers=1)
    text = write_report(tmp_path / "t").read_text(encoding="utf-8")
    assert "Hazard ratios" in text and "none vs guideline" in text and len(_self_contained(text)) == 1
    chosen = [t for t in load_targets() if t.target_id in ("clinical.pn0", "sites.her2.bone")]
    validate(patients=2000, seed=1, workers=1, targets=chosen).save(tmp_path / "v")
    text = write_report(tmp_path / "v").read_text(encoding="utf-8")
    assert "clinical.pn0" in text and len(_self_contained(text)) == 2
    seedsoil.twins(pd.DataFrame({"tumor_size_mm": [20.0], "positive_nodes": [0]}), replicates=3, seed=1,
                   out=tmp_path / "w")
    text = write_report(tmp_path / "w").read_text(encoding="utf-8")
    assert "virtual twins" in text and len(_self_contained(text)) == 1


def test_folders_without_a_finished_result_are_refused(run_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    newer = tmp_path / "newer"
    shutil.copytree(run_dir, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["seedsoil_version"] = "99.0.0"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    half = tmp_path / "half"
    shutil.copytree(run_dir, half)
    (half / ".seedsoil-partial").mkdir()
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    shutil.copy(run_dir / "patients.parquet", orphan)
    cases = [(empty, "holds no seedsoil run"), (newer, "newer than this seedsoil"), (half, "half-written run"),
             (orphan, "no manifest.json"), (tmp_path / "missing", "no such folder")]
    for folder, message in cases:
        before = (folder / REPORT_FILE).read_bytes() if (folder / REPORT_FILE).exists() else None
        with pytest.raises(ReportError, match=message):
            write_report(folder)
        res = subprocess.run([*ENTRY, "report", str(folder)], capture_output=True, text=True)
        lines = [x for x in res.stderr.splitlines() if x.strip()]
        assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        after = (folder / REPORT_FILE).read_bytes() if (folder / REPORT_FILE).exists() else None
        assert after == before  # a refused report writes nothing
