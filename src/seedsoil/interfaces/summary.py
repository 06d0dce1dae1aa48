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

    surv = Table(title="Median overall survival after distant relapse")
    surv.add_column("subtype")
    surv.add_column("patients", justify="right")
    surv.add_column("median (years)", justify="right")
    for subtype, rec in s["median_os_after_distant_relapse_years"].items():
        med = rec["median_years"]
        text = f"{med:.1f}" if med is not None else ("not reached" if rec["n"] else "–")
        surv.add_row(subtype, f"{rec['n']:,}", text)
    console.print(surv)
