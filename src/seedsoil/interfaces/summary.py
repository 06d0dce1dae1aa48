"""The headline tables a run prints (rich): cohort, sites of relapse, survival after relapse."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seedsoil.analysis.sites import site_shares_by_subtype


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def print_summary(result, console: Console) -> None:
    """Print the headline tables of a run with rich: cohort, sites of relapse, survival after relapse."""
    s = result.summary()
    cohort = Table(title="Cohort")
    cohort.add_column("run")
    cohort.add_column("value", justify="right")
    cohort.add_row("scenario", Text(str(s["scenario"])))
    cohort.add_row("engine, seed", f"{s['engine']}, {s['seed']}")
    cohort.add_row("patients", f"{s['patients']:,}")
    cohort.add_row("distant relapses", f"{s['distant_relapses']:,} ({_pct(s['distant_relapse_share'])})")
    n = s["patients"] or 1
    cohort.add_row("of which de novo stage IV", f"{s['de_novo_stage_iv']:,} ({_pct(s['de_novo_stage_iv'] / n)})")
    console.print(cohort)

    shares = site_shares_by_subtype(result.patients, include_overall=True)
    sites = Table(title="Share of relapsed patients with a metastasis at each site")
    groups = list(dict.fromkeys(shares["subtype"]))
    sites.add_column("site")
    for g in groups:
        n = int(shares.loc[shares["subtype"] == g, "n_relapsed"].iloc[0])
        sites.add_column(f"{g}\n(n={n:,})", justify="right")
    for organ in dict.fromkeys(shares["organ"]):
        row = shares[shares["organ"] == organ].set_index("subtype")["share"]
        sites.add_row(organ, *(_pct(float(row[g])) for g in groups))
    if not groups:
        sites.add_row("no distant relapses")
    console.print(sites)

    surv = Table(title="Median overall survival with distant metastases (years)")
    surv.add_column("subtype")
    surv.add_column("relapse after\nsurgery (n)", justify="right")
    surv.add_column("median from\nrelapse", justify="right")
    surv.add_column("de novo\nstage IV (n)", justify="right")
    surv.add_column("median from\ndiagnosis", justify="right")

    def text(rec):
        med = rec["median_years"]
        return f"{med:.1f}" if med is not None else ("not reached" if rec["n"] else "–")

    de_novo = s.get("median_os_de_novo_stage_iv_years", {})
    for subtype, rec in s["median_os_after_distant_relapse_years"].items():
        dn = de_novo.get(subtype, {"n": 0, "median_years": None})
        surv.add_row(subtype, f"{rec['n']:,}", text(rec), f"{dn['n']:,}", text(dn))
    console.print(surv)
