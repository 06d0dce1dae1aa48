"""Re-measure the README's "Calibration status" table on one streamed cohort run.

    python benchmarks/measure_targets.py [--patients N] [--seed S] [--workers K]

Why: the table was measured on seedsoil 0.1; after an engine rewrite (same model) it has to be
measured again, the same way every time. This runs ``seedsoil.run("default", ...)`` into a
temporary run folder, reads ``patients.parquet`` and ``lesions.parquet`` and prints, as a
Markdown table, every row of the table that a cohort run can give (the mouse-assay rows need
``seedsoil assay`` instead), plus the de novo stage IV and pN category shares, and the wall time.
Reference values come from ../shared/reference/*.csv where the README row cites one (with the
README's numbers as fallback when that folder is absent), else from the README text.

Intervals in brackets are 95% Monte-Carlo intervals of this cohort's estimate: Wilson for
shares of independent patients; bootstrap (BOOT resamples of patients) for medians and for the
lesion-level ER+ share (resampling patients, since one patient's lesions share her ER status);
the Wald interval of the logistic fit (``marker_odds_ratio``) for the TMEM odds ratio.
Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

import seedsoil
from seedsoil.analysis import DAYS_PER_YEAR, distant_relapse_mask, median_by_group, median_os_after_distant_relapse
from seedsoil.analysis.case_control import marker_odds_ratio
from seedsoil.analysis.sites import site_shares_by_subtype

SEED = 20261121
BOOT = 200
Z = float(norm.ppf(0.975))
SUBTYPES = ("luminal_a", "luminal_b", "her2", "triple_negative")
ORGANS4 = ("bone", "liver", "lung", "brain")
BORST = (("gi_tract", "gastrointestinal"), ("peritoneum", "peritoneum_retroperitoneum"), ("lung", "lung_pleura"))
KENNECKE = {"luminal_a": "luminal_a", "luminal_b": "luminal_b", "her2": "her2_enriched", "triple_negative": "basal_like"}
REF_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


# ----- intervals and formatting -------------------------------------------------------------------

def wilson(k: int, n: int) -> tuple[float, float, float]:
    """Share k/n with its 95% Wilson interval (NaN when n = 0)."""
    if n == 0:
        return (np.nan,) * 3
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return p, centre - half, centre + half


def boot(stat, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of ``stat(idx)`` over BOOT resampled index arrays of 0..n-1."""
    vals = np.array([stat(rng.integers(0, n, n)) for _ in range(BOOT)], float)
    return tuple(np.nanpercentile(vals, [2.5, 97.5])) if np.isfinite(vals).any() else (np.nan, np.nan)


def fmt(v: float, lo: float, hi: float, digits: int = 0, scale: float = 1.0, unit: str = "") -> str:
    if not np.isfinite(v):
        return "n/a"
    f = f"{{:.{digits}f}}"
    return f"{f.format(v * scale)}{unit} [{f.format(lo * scale)}-{f.format(hi * scale)}]"


def pct(k: int, n: int, digits: int = 0, unit: str = "") -> str:
    return fmt(*wilson(int(k), int(n)), digits=digits, scale=100, unit=unit)


# ----- references -----------------------------------------------------------------------------------

def reference_csv(name: str) -> pd.DataFrame | None:
    path = REF_DIR / name
    return pd.read_csv(path) if path.exists() else None


def references() -> dict[str, str]:
    """Reference column, from the shared CSVs where the README row cites one."""
    ref = {
        "relapse": "~15-20% overall (EBCTCG)", "pn0": "~65% (SEER)", "ctc": "24% (Lucci 2012)",
        "tmem": "1.9 (95% CI 1.1-3.4); 105 / 50 (Robinson 2009)",
        "sites": {"luminal_a": "66 / 25 / 30 / 10 (J Breast Cancer 2016)", "luminal_b": "54 / 34 / 31 / 15",
                  "her2": "39 / 40 / 35 / 25", "triple_negative": "45 / 28 / 41 / 23"},
        "borst": "4.5 / 3.1 / 2.5 vs 0.2 / 0.6 / 10.2 (Borst 1993, % of all patients)",
        "late_er": "most (Pan 2017)", "os_relapse": "2.2 / 1.6 / 0.7 / 0.5 y (Kennecke 2010)",
        "bone_only": "65 months (Lee 2011)", "denovo": "~5-6% (registries; CDC/SEER 6%, Cancer.Net 5%)",
        "pn_cat": "— (no published share in README or reference)",
    }
    sites = reference_csv("sites_by_subtype.csv")
    if sites is not None:
        s = sites.set_index(["subtype", "site"])["percent_of_relapsed_patients"]
        ref["sites"] = {st: " / ".join(f"{s[(st, o)]:g}" for o in ORGANS4) + (" (J Breast Cancer 2016)" if i == 0 else "")
                        for i, st in enumerate(SUBTYPES)}
    borst = reference_csv("lobular_vs_ductal.csv")
    if borst is not None:
        b = borst.set_index("site")
        ref["borst"] = (" / ".join(f"{b.loc[c, 'ilc_percent']:g}" for _, c in BORST) + " vs "
                        + " / ".join(f"{b.loc[c, 'idc_percent']:g}" for _, c in BORST) + " (Borst 1993, % of all patients)")
    surv = reference_csv("survival_after_metastasis.csv")
    if surv is not None:
        v = surv.set_index(["group", "quantity"])["value"]
        ref["os_relapse"] = (" / ".join(f"{v[(KENNECKE[s], 'median_survival_with_distant_metastasis')]:g}" for s in SUBTYPES)
                             + " y (Kennecke 2010)")
        ref["bone_only"] = f"{v[('hr_positive_bone_only', 'median_overall_survival_after_metastasis')]:g} months (Lee 2011)"
    casc = reference_csv("cascade_efficiency.csv")
    if casc is not None:
        orr = casc.set_index("quantity").loc["tmem_odds_ratio_per_10_units", "value"]
        ref["tmem"] = f"{orr:g} (95% CI 1.1-3.4); 105 / 50 (Robinson 2009)"
    return ref


# ----- the table ------------------------------------------------------------------------------------

def measure(patients: pd.DataFrame, lesions: pd.DataFrame, seed: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    ref = references()
    n = len(patients)
    relapsed = distant_relapse_mask(patients) & patients["dmfs_event"]
    rows = []

    within10 = relapsed & (patients["dmfs_days"] <= 10 * DAYS_PER_YEAR)
    rows.append(("10-year distant relapse", ref["relapse"], pct(within10.sum(), n, 1, "%")))
    m0 = patients["M"] == "M0"
    rows.append(("  same, M0 at diagnosis only", "", pct((within10 & m0).sum(), m0.sum(), 1, "%")))
    rows.append(("node-negative (pN0) at diagnosis", ref["pn0"], pct((patients["pN"] == "pN0").sum(), n, 1, "%")))
    neg = patients["pN"].isin(["pN0", "pN0(i+)"])
    rows.append(("  same, pN0 + pN0(i+) (AJCC node-negative)", "", pct(neg.sum(), n, 1, "%")))
    early = patients["stage"] != "IV"
    rows.append(("≥1 CTC per 7.5 mL before treatment, stage I-III", ref["ctc"],
                 pct((patients.loc[early, "ctc_7_5ml"] >= 1).sum(), early.sum(), 1, "%")))

    r = marker_odds_ratio(patients)
    cases = distant_relapse_mask(patients).to_numpy()
    tmem = patients["tmem_score"].to_numpy(float)
    med = []
    for x in (tmem[cases], tmem[~cases]):
        med.append(fmt(float(np.median(x)), *boot(lambda i, x=x: np.median(x[i]), len(x), rng)))
    rows.append(("TMEM case-control: OR per 10 units; median cases / controls", ref["tmem"],
                 f"{fmt(r['odds_ratio'], r['ci_low'], r['ci_high'], 2)}; {med[0]} / {med[1]} "
                 f"({int(r['cases'])} cases, {int(r['controls'])} controls)"))

    def counts(table: pd.DataFrame, group: str, organs) -> tuple[list[int], int]:
        """Relapsed patients of ``group`` with each organ, and how many relapsed."""
        sub = table[table["subtype"] == group].set_index("organ")
        nrel = int(sub["n_relapsed"].iloc[0]) if len(sub) else 0
        return [round(sub["share"].get(o, 0.0) * nrel) for o in organs], nrel

    shares = site_shares_by_subtype(patients)
    for i, st in enumerate(SUBTYPES):
        ks, nrel = counts(shares, st, ORGANS4)
        label = f"bone / liver / lung / brain, % of relapsed, {st}" if i == 0 else f"same, {st}"
        rows.append((label, ref["sites"][st], " / ".join(pct(k, nrel) for k in ks) + f" (n = {nrel})"))

    # Borst 1993 divides by all patients of the histology, not by the relapsed ones.
    by_hist = site_shares_by_subtype(patients.assign(subtype=patients["histology"]))
    parts = []
    for h in ("ilc", "idc"):
        n_h = int((patients["histology"] == h).sum())
        ks, _ = counts(by_hist, h, [o for o, _ in BORST])
        parts.append(" / ".join(pct(k, n_h, 1) for k in ks) + f" (n = {n_h})")
    rows.append(("ILC vs IDC: GI / peritoneum / lung, % of all patients", ref["borst"], " vs ".join(parts)))

    late = lesions[lesions["detection_day"] > 5 * DAYS_PER_YEAR][["patient_id"]].merge(
        patients[["patient_id", "er"]], on="patient_id")
    per_pt = late.groupby("patient_id")["er"].agg(["size", "first"])
    cnt, er = per_pt["size"].to_numpy(float), per_pt["first"].to_numpy(bool)
    share = (cnt * er).sum() / cnt.sum() if len(cnt) else np.nan
    lo, hi = boot(lambda i: (cnt[i] * er[i]).sum() / cnt[i].sum(), len(cnt), rng) if len(cnt) else (np.nan, np.nan)
    rows.append(("late (> 5 y) distant metastases that are ER+", ref["late_er"],
                 fmt(share, lo, hi, 0, 100, "%") + f" ({len(late)} lesions, {len(cnt)} patients)"))

    rel = patients[relapsed].reset_index(drop=True)
    point = median_os_after_distant_relapse(rel).set_index("subtype")["median_years"]
    reps = np.array([median_os_after_distant_relapse(rel.iloc[rng.integers(0, len(rel), len(rel))])
                     .set_index("subtype")["median_years"].reindex(SUBTYPES).to_numpy() for _ in range(BOOT)])
    ci = np.nanpercentile(reps, [2.5, 97.5], axis=0)
    rows.append(("median OS after distant relapse, lumA / lumB / HER2 / TNBC", ref["os_relapse"],
                 " / ".join(fmt(point.get(s, np.nan), ci[0, j], ci[1, j], 1) for j, s in enumerate(SUBTYPES)) + " y"))

    bo = rel[(rel["er"] | rel["pr"]) & (rel["first_metastasis_sites"] == "bone")]
    after = pd.DataFrame({"days": np.clip(bo["os_days"].to_numpy(float) - bo["dmfs_days"].to_numpy(float), 0, None),
                          "event": bo["os_event"].to_numpy(bool), "g": "all"})

    def bone_median(idx=None):
        d = after if idx is None else after.iloc[idx]
        return float(median_by_group(d, "days", "event", "g", time_scale=DAYS_PER_YEAR / 12)["median"].iloc[0])

    rows.append(("median OS, HR+ with bone-only first relapse", ref["bone_only"],
                 fmt(bone_median(), *boot(bone_median, len(after), rng), 0, unit=" months") + f" (n = {len(after)})"))

    rows.append(("de novo stage IV (M1)", ref["denovo"], pct((patients["M"] == "M1").sum(), n, 1, "%")))
    for cat in ("pN0(i+)", "pN1mi", "pN1a"):
        rows.append((f"{cat} at diagnosis", ref["pn_cat"], pct((patients["pN"] == cat).sum(), n, 1, "%")))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--workers", type=int, default=None, help="default: all CPUs")
    a = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seedsoil-targets-") as tmp:
        seedsoil.run("default", Path(tmp) / "run", patients=a.patients, seed=a.seed, workers=a.workers)
        t_run = time.perf_counter() - t0
        patients = pd.read_parquet(Path(tmp) / "run" / "patients.parquet")
        lesions = pd.read_parquet(Path(tmp) / "run" / "lesions.parquet")
    rows = measure(patients, lesions, a.seed)
    print(f"seedsoil {seedsoil.__version__}, default scenario, seed {a.seed}, workers {a.workers or 'all CPUs'}; "
          f"[95% interval: Wilson for shares, bootstrap ({BOOT}) for medians and the late ER+ share, Wald for the OR]\n")
    print(f"| target | reference | seedsoil ({a.patients:,} patients) |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    total = time.perf_counter() - t0
    print(f"\nwall time: {total:.0f} s (run {t_run:.0f} s, analysis {total - t_run:.0f} s)")


if __name__ == "__main__":
    main()
