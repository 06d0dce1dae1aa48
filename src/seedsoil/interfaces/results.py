"""The result of a run in memory: its three tables, what produced them, and how they go to and
from a run folder (interfaces/store.py writes it: fixed schemas and row groups, atomic files,
manifest last, so the same tables always give byte-identical files)."""

from __future__ import annotations

import json
import math
import os
import platform
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from seedsoil._version import __version__
from seedsoil.analysis.sites import site_shares_by_subtype
from seedsoil.analysis.survival import distant_relapse_mask, median_os_after_distant_relapse
from seedsoil.interfaces import plots, store
from seedsoil.interfaces.schema import arrow_schema
from seedsoil.params import ParameterSet
from seedsoil.scenario import Scenario, scenario_from_dict

from seedsoil.interfaces.store import FORMAT_NAME, FORMAT_VERSION, MANIFEST

PATIENTS_SCHEMA = arrow_schema("patients")
"""patients.parquet, in docs/schema.md order. Float columns may hold NaN (stored as null)."""

LESIONS_SCHEMA = arrow_schema("lesions")
"""lesions.parquet: one row per detected distant metastasis."""

CTC_DRAWS_SCHEMA = arrow_schema("ctc_draws")
"""ctc_draws.parquet: one row per blood draw (scenario ``[measurements] ctc_draw_days``)."""

FUNNEL_SCHEMA = arrow_schema("funnel")
"""funnel.parquet: cascade counts summed over the cohort."""

TABLE_SCHEMAS: dict[str, pa.Schema] = {"patients": PATIENTS_SCHEMA, "lesions": LESIONS_SCHEMA,
                                       "ctc_draws": CTC_DRAWS_SCHEMA, "funnel": FUNNEL_SCHEMA}
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
    ctc_draws: pd.DataFrame = field(default_factory=lambda: CTC_DRAWS_SCHEMA.empty_table().to_pandas())

    def __repr__(self) -> str:
        return (f"Result(scenario={self.scenario.name!r}, patients={len(self.patients)}, "
                f"lesions={len(self.lesions)}, seed={self.seed}, engine={self.engine!r})")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name: 'patients', 'lesions', 'ctc_draws', 'funnel'."""
        return {"patients": self.patients, "lesions": self.lesions, "ctc_draws": self.ctc_draws,
                "funnel": self.funnel}


    # ----- analysis -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Headline numbers as plain JSON-ready values (shares 0..1, medians in years, NaN -> None)."""
        n = int(len(self.patients))
        relapsed = int(distant_relapse_mask(self.patients).sum())
        shares = site_shares_by_subtype(self.patients, include_overall=True)
        overall = shares[shares["subtype"] == "all"]
        m1 = (self.patients["M"] == "M1") if "M" in self.patients else pd.Series(False, index=self.patients.index)
        medians = median_os_after_distant_relapse(self.patients[~m1])
        de_novo = median_os_after_distant_relapse(self.patients[m1])
        return _json_safe({
            "scenario": self.scenario.name,
            "engine": self.engine,
            "seed": self.seed,
            "patients": n,
            "distant_relapses": relapsed,
            "distant_relapse_share": relapsed / n if n else math.nan,
            "site_share_of_relapsed": dict(zip(overall["organ"], overall["share"], strict=True)),
            "de_novo_stage_iv": int(m1.sum()),
            "median_os_after_distant_relapse_years": {
                r.subtype: {"n": int(r.n), "median_years": float(r.median_years)} for r in medians.itertuples()
            },
            "median_os_de_novo_stage_iv_years": {
                r.subtype: {"n": int(r.n), "median_years": float(r.median_years)} for r in de_novo.itertuples()
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

    def save(self, out_dir: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write tables, figures and manifest.json into ``out_dir`` (created if needed); return it.

        Each file is written under a temporary name and renamed into place, tables first and
        manifest.json last, so a failed save never leaves a manifest for files it did not
        write. Raises OSError for file-system problems, ValueError when a table does not match
        docs/schema.md, and RunFolderError when the folder holds another run and not ``overwrite``."""
        out = Path(out_dir)
        arrow = {name: to_arrow(df, name) for name, df in self.tables().items()}  # validate before touching disk
        identity = self.identity(chunk_patients=0)
        folder = store.RunFolder.open(out, identity, overwrite=overwrite)
        folder.write_tables(arrow)
        figures = plots.render_figures(self.tables())
        folder.complete({n: (lambda p, f=fig: plots.write_figure(f, p)) for n, fig in figures.items()},
                             self.manifest)
        return out

    @classmethod
    def load_tables(cls, out_dir: Path, scenario: Scenario, params: ParameterSet, seed: int, engine: str,
                    columns: tuple[str, ...] | None = None) -> Result:
        """The tables of a run folder just written by this process (``columns``: only these
        patients columns, strings read as categories, so a summary of millions of patients
        stays small)."""
        out = Path(out_dir)
        if columns is None:
            patients = _read_table(out / "patients.parquet", "patients")
        else:
            strings = [c for c in columns if arrow_schema("patients").field(c).type == pa.string()]
            patients = pq.read_table(out / "patients.parquet", columns=list(columns),
                                     read_dictionary=strings).to_pandas()
        lesions = _read_table(out / "lesions.parquet", "lesions") if columns is None else None
        draws = _read_table(out / "ctc_draws.parquet", "ctc_draws") if columns is None else None
        return cls(patients=patients, lesions=lesions, funnel=_read_table(out / "funnel.parquet", "funnel"),
                   scenario=scenario, params=params, seed=int(seed), engine=engine, ctc_draws=draws)

    def identity(self, chunk_patients: int) -> store.RunIdentity:
        return store.RunIdentity(seedsoil_version=__version__, scenario=self.scenario.model_dump(mode="json"),
                                 seed=int(self.seed), engine=self.engine, patients=int(len(self.patients)),
                                 parameter_hash=self.params.digest(), chunk_patients=int(chunk_patients))

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
        tables = {name: _read_table(out / f"{name}.parquet", name) for name in TABLE_SCHEMAS
                  if name != "ctc_draws" or (out / "ctc_draws.parquet").exists()}  # runs written before blood draws existed have none
        scenario, params = scenario_from_dict(manifest["scenario"], source=str(manifest_path))
        if params.digest() != manifest.get("parameter_hash"):
            warnings.warn(f"{out}: parameters rebuilt from the scenario differ from those of the run "
                          f"(seedsoil {manifest.get('seedsoil_version')} vs {__version__}); "
                          "Result.params is not what produced these tables", stacklevel=2)
        return cls(scenario=scenario, params=params, seed=int(manifest["seed"]), engine=str(manifest["engine"]),
                   timings={k: float(v) for k, v in (manifest.get("timings") or {}).items()}, **tables)


