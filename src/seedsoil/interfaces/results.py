"""The result of a run: its three tables, what produced them, and how they go to and from disk.

A run folder holds patients.parquet, lesions.parquet, funnel.parquet, manifest.json and the
PNG figures (DESIGN.md section 6). Parquet files use the fixed Arrow schemas below (the
contract in docs/schema.md) and pinned writer settings, so the same tables always give
byte-identical files. Every file is first written under a temporary name in the target
folder and moved into place only when all of them were written, so a failed save leaves an
earlier result in that folder intact.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import secrets
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seedsoil._version import __version__
from seedsoil.analysis.sites import site_shares_by_subtype
from seedsoil.analysis.survival import distant_relapse_mask, median_os_after_distant_relapse
from seedsoil.interfaces import plots
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, scenario_from_dict

FORMAT_NAME = "seedsoil-result"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

PATIENTS_SCHEMA = pa.schema([
    pa.field("patient_id", pa.int64(), nullable=False),
    pa.field("subtype", pa.string(), nullable=False),
    pa.field("histology", pa.string(), nullable=False),
    pa.field("er", pa.bool_(), nullable=False),
    pa.field("pr", pa.bool_(), nullable=False),
    pa.field("her2", pa.bool_(), nullable=False),
    pa.field("age_at_diagnosis", pa.float64()),
    pa.field("tumor_size_mm", pa.float64()),
    pa.field("grade", pa.int64(), nullable=False),
    pa.field("tmem_score", pa.float64()),
    pa.field("positive_nodes", pa.int64(), nullable=False),
    pa.field("nodes_examined", pa.int64(), nullable=False),
    pa.field("pT", pa.string(), nullable=False),
    pa.field("pN", pa.string(), nullable=False),
    pa.field("M", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("dfs_days", pa.float64()),
    pa.field("dmfs_days", pa.float64()),
    pa.field("os_days", pa.float64()),
    pa.field("dfs_event", pa.bool_(), nullable=False),
    pa.field("dmfs_event", pa.bool_(), nullable=False),
    pa.field("os_event", pa.bool_(), nullable=False),
    pa.field("death_cause", pa.string(), nullable=False),
    pa.field("first_metastasis_sites", pa.string(), nullable=False),
    pa.field("metastasis_sites", pa.string(), nullable=False),
    pa.field("regional_recurrence_day", pa.float64()),
    pa.field("n_colonies", pa.int64(), nullable=False),
    pa.field("ctc_7_5ml", pa.int64(), nullable=False),
])
"""patients.parquet, in docs/schema.md order. Float columns may hold NaN (stored as null)."""

LESIONS_SCHEMA = pa.schema([
    pa.field("patient_id", pa.int64(), nullable=False),
    pa.field("organ", pa.string(), nullable=False),
    pa.field("detection_day", pa.float64()),
    pa.field("size_mm", pa.float64()),
    pa.field("clone", pa.string(), nullable=False),
    pa.field("founded_day", pa.float64()),
    pa.field("origin", pa.string(), nullable=False),
])
"""lesions.parquet: one row per detected distant metastasis."""

FUNNEL_SCHEMA = pa.schema([
    pa.field("stage", pa.string(), nullable=False),
    pa.field("organ", pa.string(), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
])
"""funnel.parquet: cascade counts summed over the cohort."""

TABLE_SCHEMAS: dict[str, pa.Schema] = {"patients": PATIENTS_SCHEMA, "lesions": LESIONS_SCHEMA,
                                       "funnel": FUNNEL_SCHEMA}
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
}
"""Pinned writer settings: part of what makes the Parquet files byte-reproducible."""


def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    """Table ``name`` ('patients', 'lesions', 'funnel') as Arrow with its fixed schema.

    Raises ValueError naming the table and column when the frame does not match docs/schema.md
    (missing or extra columns, a value of the wrong type, a missing value in a non-float column).
    """
    schema = TABLE_SCHEMAS[name]
    missing = [c for c in schema.names if c not in df.columns]
    extra = [c for c in df.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"{name} table does not match docs/schema.md: "
                         f"missing columns {missing}, unexpected columns {extra}")
    arrays = []
    for f in schema:
        col = df[f.name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        try:
            arr = pa.array(col, type=f.type, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise ValueError(f"{name}.{f.name}: cannot store as {f.type} ({err})") from None
        if not f.nullable and arr.null_count:
            raise ValueError(f"{name}.{f.name}: {arr.null_count} missing value(s) in a column that must be complete")
        arrays.append(arr)
    meta = {b"seedsoil.table": name.encode(), b"seedsoil.format_version": str(FORMAT_VERSION).encode()}
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(meta))


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write one Arrow table with the pinned settings (a seam the tests use to inject failures)."""
    pq.write_table(table, path, **PARQUET_OPTIONS)


def _write_text(text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _fsync(path: Path) -> None:
    """Flush a written file to the disk so a crash after the rename cannot leave it empty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, recursively, so the value is strict JSON."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _read_table(path: Path, name: str) -> pd.DataFrame:
    """One Parquet table back as pandas, checking its columns against the schema."""
    table = pq.read_table(path)
    expected = TABLE_SCHEMAS[name].names
    if table.column_names != expected:
        raise ValueError(f"{path}: columns {table.column_names} do not match the {name} schema {expected}")
    return table.to_pandas()


@dataclass(eq=False, repr=False)
class Result:
    """A simulated cohort: the three tables of docs/schema.md and what produced them.

    ``timings`` holds wall-clock seconds per phase of the run (names chosen by the engine).
    """

    patients: pd.DataFrame
    lesions: pd.DataFrame
    funnel: pd.DataFrame
    scenario: Scenario
    params: ParameterSet
    seed: int
    engine: str
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Result(scenario={self.scenario.name!r}, patients={len(self.patients)}, "
                f"lesions={len(self.lesions)}, seed={self.seed}, engine={self.engine!r})")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The three tables by name: 'patients', 'lesions', 'funnel'."""
        return {"patients": self.patients, "lesions": self.lesions, "funnel": self.funnel}

    # ----- analysis -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Headline numbers as plain JSON-ready values (shares 0..1, medians in years, NaN -> None)."""
        n = int(len(self.patients))
        relapsed = int(distant_relapse_mask(self.patients).sum())
        shares = site_shares_by_subtype(self.patients, include_overall=True)
        overall = shares[shares["subtype"] == "all"]
        medians = median_os_after_distant_relapse(self.patients)
        return _json_safe({
            "scenario": self.scenario.name,
            "engine": self.engine,
            "seed": self.seed,
            "patients": n,
            "distant_relapses": relapsed,
            "distant_relapse_share": relapsed / n if n else math.nan,
            "site_share_of_relapsed": dict(zip(overall["organ"], overall["share"], strict=True)),
            "median_os_after_distant_relapse_years": {
                r.subtype: {"n": int(r.n), "median_years": float(r.median_years)} for r in medians.itertuples()
            },
        })

    def plot_km(self, endpoint: str = "os") -> Figure:
        """Kaplan–Meier curves of 'os', 'dmfs' or 'dfs' by subtype (years)."""
        return plots.plot_km(self.patients, endpoint)

    def plot_sites(self) -> Figure:
        """Share of relapsed patients by metastatic site and subtype."""
        return plots.plot_sites(self.patients)

    def plot_funnel(self) -> Figure:
        """The metastatic cascade funnel on a log scale."""
        return plots.plot_funnel(self.funnel)

    # ----- disk -----------------------------------------------------------------------------

    def manifest(self, files: list[str], checksums: Mapping[str, str]) -> dict[str, Any]:
        """What manifest.json records: versions, scenario, seed, parameter hash, timings, files."""
        return _json_safe({
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "seedsoil_version": __version__,
            "scenario_name": self.scenario.name,
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": int(self.seed),
            "engine": self.engine,
            "patients": int(len(self.patients)),
            "parameter_hash": self.params.digest(),
            "timings": {k: float(v) for k, v in self.timings.items()},
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "pyarrow": pa.__version__,
            "files": files,
            "sha256": dict(checksums),
        })

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write tables, figures and manifest.json into ``out_dir`` (created if needed); return it.

        All files are written to temporary names first and moved into place only after every
        one succeeded (manifest last); on any error the temporaries are removed and the
        folder's earlier content is untouched. Raises OSError for file-system problems and
        ValueError when a table does not match docs/schema.md.
        """
        out = Path(out_dir)
        arrow = {name: to_arrow(df, name) for name, df in self.tables().items()}  # validate before touching disk
        figures = plots.render_figures(self.tables())
        out.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}.{secrets.token_hex(4)}"
        staged: list[tuple[Path, Path]] = []

        def stage(name: str, write: Callable[[Path], None]) -> Path:
            tmp = out / f".{name}.{token}.tmp"
            staged.append((tmp, out / name))
            write(tmp)
            _fsync(tmp)
            return tmp

        try:
            checksums = {}
            for name, table in arrow.items():
                fname = f"{name}.parquet"
                checksums[fname] = _sha256(stage(fname, lambda p, t=table: _write_parquet(t, p)))
            for fname, fig in figures.items():
                stage(fname, lambda p, f=fig: plots.write_figure(f, p))
            files = [final.name for _, final in staged] + [MANIFEST]
            text = json.dumps(self.manifest(files, checksums), indent=2, allow_nan=False) + "\n"
            stage(MANIFEST, lambda p: _write_text(text, p))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged:  # manifest.json is last: it marks a complete folder
            os.replace(tmp, final)
        return out

    @classmethod
    def load(cls, out_dir: str | os.PathLike) -> Result:
        """Read a folder written by :meth:`save` back into a Result.

        The scenario is re-validated from the manifest and its parameters rebuilt on the
        current defaults; a warning says so when their hash differs from the recorded one.
        """
        out = Path(out_dir)
        manifest_path = out / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{out}: no {MANIFEST}; not a seedsoil result folder") from None
        if manifest.get("format") != FORMAT_NAME:
            raise ValueError(f"{manifest_path}: not a seedsoil result manifest")
        tables = {name: _read_table(out / f"{name}.parquet", name) for name in TABLE_SCHEMAS}
        scenario, params = scenario_from_dict(manifest["scenario"], source=str(manifest_path))
        if params.digest() != manifest.get("parameter_hash"):
            warnings.warn(f"{out}: parameters rebuilt from the scenario differ from those of the run "
                          f"(seedsoil {manifest.get('seedsoil_version')} vs {__version__}); "
                          "Result.params is not what produced these tables", stacklevel=2)
        return cls(scenario=scenario, params=params, seed=int(manifest["seed"]), engine=str(manifest["engine"]),
                   timings={k: float(v) for k, v in (manifest.get("timings") or {}).items()}, **tables)


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def print_summary(result: Result, console: Console) -> None:
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
