"""A run folder on disk, written as the run goes: one part file per finished chunk in a hidden
work folder, merged in patient order into the final Parquet files when every chunk is there,
figures, and manifest.json last. A file appears under its final name only when complete; an
interrupted run leaves its parts for ``--resume`` and never a manifest claiming it finished.

The final Parquet files are written with fixed row groups (:data:`ROW_GROUP_ROWS`) whatever the
chunking, so the same run gives byte-identical files for any chunk size, worker count or
scheduler, and after a resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from seedsoil.interfaces.schema import arrow_schema
from seedsoil.interfaces.stopping import check_stop

MANIFEST = "manifest.json"
WORK_DIR = ".seedsoil-partial"
IDENTITY = "run.json"
PART_TABLES = ("patients", "lesions", "ctc_draws")
"""Tables written per chunk and merged in patient order (the funnel is summed)."""
TABLE_FILES = tuple(f"{t}.parquet" for t in PART_TABLES) + ("funnel.parquet",)
FIGURE_FILES = ("km_dmfs.png", "km_os.png", "sites.png", "funnel.png")
RUN_FILES = TABLE_FILES + FIGURE_FILES + (MANIFEST,)
TMP_PREFIX = ".seedsoil-tmp-"
ROW_GROUP_ROWS = 1 << 20
"""Rows per Parquet row group in every final table (fixed: part of byte-reproducibility)."""
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
"""Pinned writer settings: with the fixed row groups, what makes the Parquet files byte-reproducible."""
BYTES_PER_PATIENT = 400
"""Disk a run needs per patient, parts and final files together (measured about 200 on the
default scenario; twice that as a margin), checked before a run starts."""
FORMAT_NAME = "seedsoil-result"
FORMAT_VERSION = 1


class RunFolderError(ValueError):
    """The output folder cannot take this run as asked (another run there, nothing to resume...)."""


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs the same run: a resume must match every field."""

    seedsoil_version: str
    scenario: dict
    seed: int
    engine: str
    patients: int
    parameter_hash: str
    chunk_patients: int

    def differences(self, other: RunIdentity) -> list[str]:
        a, b = asdict(self), asdict(other)
        return [k for k in a if a[k] != b[k]]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary name in the same folder, flush, then rename into place."""
    tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}"
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_files(out: Path, writers: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Write each named file of ``writers`` into ``out`` atomically (:func:`atomic_write`), in order;
    return their paths. A failure leaves every file complete or as it was."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, write in writers.items():
        atomic_write(out / name, write)
        written.append(out / name)
    return written


def json_writer(obj) -> Callable[[Path], None]:
    """A :func:`write_files` writer of ``obj`` as indented JSON (no NaN), one newline at the end."""
    return lambda f: f.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def remove_stale_temporaries(folder: Path) -> None:
    """Remove temporary files of our own naming left by an earlier, killed writer."""
    if folder.is_dir():
        for f in folder.glob(f"{TMP_PREFIX}*"):
            f.unlink(missing_ok=True)


class ParquetStream:
    """Writes one table in fixed row groups from pieces of any size (byte-identical for any
    way the rows are cut into pieces)."""

    def __init__(self, path: Path, table: str):
        self.schema = arrow_schema(table).with_metadata({b"seedsoil.table": table.encode(),
                                                         b"seedsoil.format_version": str(FORMAT_VERSION).encode()})
        self.writer = pq.ParquetWriter(path, self.schema, **PARQUET_OPTIONS)
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, piece: pa.Table) -> None:
        check_stop()
        self.pending.append(piece.cast(self.schema))
        self.rows += piece.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            buf = pa.concat_tables(self.pending)
            cut = (self.rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
            for a in range(0, cut, ROW_GROUP_ROWS):
                self.writer.write_table(buf.slice(a, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
            rest = buf.slice(cut)
            self.pending, self.rows = [rest], rest.num_rows

    def close(self) -> None:
        try:
            if self.rows:
                self.writer.write_table(pa.concat_tables(self.pending), row_group_size=ROW_GROUP_ROWS)
        finally:
            self.writer.close()


def write_parquet(path: Path, table: str, pieces: Iterable[pa.Table]) -> None:
    """Write ``pieces`` (in order) as one Parquet table atomically under ``path``."""
    def write(tmp: Path) -> None:
        stream = ParquetStream(tmp, table)
        try:
            for piece in pieces:
                stream.write(piece)
        finally:
            stream.close()
    atomic_write(path, write)


def funnel_table(counts: np.ndarray) -> pa.Table:
    """The funnel counts (stage x site) as the long funnel table (only sites a stage applies to)."""
    from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES

    rows = [(st, site, int(counts[i, j])) for i, st in enumerate(FUNNEL_STAGES) for j, site in enumerate(FUNNEL_SITES)
            if counts[i, j] or (site == "all" and st in FUNNEL_STAGES[:4])]
    cols = list(zip(*rows)) if rows else [[], [], []]
    return pa.Table.from_arrays([pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()),
                                 pa.array(cols[2], pa.int64())], schema=arrow_schema("funnel"))


class RunFolder:
    """The folder of one run while it is written (parts) and when it is finished (files)."""

    def __init__(self, out: Path, identity: RunIdentity):
        self.out, self.identity = Path(out), identity
        self.work = self.out / WORK_DIR
        self.created = False  # whether opening this run created the folder

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, out: Path, identity: RunIdentity, *, resume: bool = False, overwrite: bool = False) -> RunFolder:
        """Check ``out`` before anything runs and claim it for this run; raises RunFolderError
        (another run there, nothing to resume) or OSError (not a folder, not writable)."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(20, "exists and is not a folder", str(out))
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f"{TMP_PREFIX}{os.getpid()}-probe"
        try:
            with open(probe, "wb") as f:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        finally:
            probe.unlink(missing_ok=True)
        need = identity.patients * BYTES_PER_PATIENT
        free = shutil.disk_usage(out).free
        if free < need:
            raise OSError(28, f"about {need / 2**20:,.0f} MiB needed for {identity.patients:,} patients, "
                              f"{free / 2**20:,.0f} MiB free", str(out))
        folder = cls(out, identity)
        folder.created = created
        remove_stale_temporaries(out)
        remove_stale_temporaries(folder.work)
        ours = [n for n in RUN_FILES if (out / n).exists()]
        if resume:
            saved = folder._saved_identity()
            if saved is None:
                done = folder._finished_identity()
                if done is not None and not done.differences(identity):
                    return folder  # finished already: finish() has nothing left to do
                what = "a finished different run" if done is not None else "no run to resume"
                raise RunFolderError(f"--resume: {out} holds {what}")
            diff = saved.differences(identity)
            if diff:
                raise RunFolderError(f"--resume: {out} holds a different run ({', '.join(diff)} differ); "
                                     "start it with the same command, or use --overwrite to replace it")
            return folder
        if (ours or folder.work.exists()) and not overwrite:
            what = "an unfinished run (resume it with --resume)" if folder.work.exists() else "another run's files"
            raise RunFolderError(f"--out {out} holds {what}; use --overwrite to replace it, or another folder")
        if folder.work.exists():
            shutil.rmtree(folder.work)
        folder.work.mkdir()
        atomic_write(folder.work / IDENTITY, lambda p: p.write_text(json.dumps(asdict(identity), indent=1)))
        return folder

    def _saved_identity(self) -> RunIdentity | None:
        try:
            return RunIdentity(**json.loads((self.work / IDENTITY).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _finished_identity(self) -> RunIdentity | None:
        try:
            m = json.loads((self.out / MANIFEST).read_text())
            return RunIdentity(**m["run"])
        except (OSError, ValueError, TypeError, KeyError):
            return None

    @property
    def finished(self) -> bool:
        return not self.work.exists() and self._finished_identity() == self.identity

    # -- parts ---------------------------------------------------------------------------------
    def _part(self, kind: str, index: int, ext: str) -> Path:
        return self.work / f"{kind}-{index:06d}.{ext}"

    def done_chunks(self) -> set[int]:
        """Chunks whose parts are all written (the funnel part is written last)."""
        if not self.work.exists():
            return set()
        done = set()
        for f in self.work.glob("funnel-*.json"):
            i = int(f.stem.split("-")[1])
            if all(self._part(kind, i, "arrow").exists() for kind in PART_TABLES):
                done.add(i)
        return done

    def write_part(self, output) -> None:
        """Store one finished chunk (atomic per file; the funnel part marks it complete)."""
        for kind in PART_TABLES:
            table = getattr(output, kind)
            atomic_write(self._part(kind, output.index, "arrow"),
                         lambda p, t=table: feather.write_feather(t, p, compression="lz4"))
        counts = [[int(x) for x in row] for row in output.funnel]
        atomic_write(self._part("funnel", output.index, "json"), lambda p: p.write_text(json.dumps(counts)))

    def _read_parts(self, kind: str, n_chunks: int):
        for i in range(n_chunks):
            yield feather.read_table(self._part(kind, i, "arrow"), memory_map=False)

    def funnel_counts(self, n_chunks: int) -> np.ndarray:
        total = None
        for i in range(n_chunks):
            c = np.array(json.loads(self._part("funnel", i, "json").read_text()), dtype=np.int64)
            total = c if total is None else total + c
        return total

    def abandon(self) -> None:
        """Remove this run's work folder (a run the model refused), and the folder itself if this
        run created it and it is empty; a finished run there stays."""
        shutil.rmtree(self.work, ignore_errors=True)
        if self.created and not any(self.out.iterdir()):
            self.out.rmdir()

    # -- finishing -------------------------------------------------------------------------------
    def merge_parts(self, n_chunks: int) -> None:
        """Merge the parts into the final tables in patient order. An older run's manifest goes
        first, so the folder never claims a run whose files it does not hold."""
        from concurrent.futures import ThreadPoolExecutor

        (self.out / MANIFEST).unlink(missing_ok=True)
        with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow reads, compresses and writes without the GIL
            jobs = [pool.submit(write_parquet, self.out / f"{kind}.parquet", kind, self._read_parts(kind, n_chunks))
                    for kind in PART_TABLES]
            for job in jobs:
                job.result()
        write_parquet(self.out / "funnel.parquet", "funnel", [funnel_table(self.funnel_counts(n_chunks))])

    def write_tables(self, tables: dict[str, pa.Table]) -> None:
        """Write whole in-memory tables as the final tables (same files as merged parts)."""
        (self.out / MANIFEST).unlink(missing_ok=True)
        for kind, table in tables.items():
            write_parquet(self.out / f"{kind}.parquet", kind, [table])

    def complete(self, figures: dict[str, Callable[[Path], None]],
                 manifest: Callable[[list[str], dict[str, str]], dict]) -> None:
        """Draw the figures, write the manifest last (with the run identity) and remove the work
        folder: from here on the folder holds a finished run. (Figures are drawn here, in this
        process: forking beside Arrow's and Dask's threads risks a deadlocked child.)"""
        files = list(TABLE_FILES)
        for name, draw in figures.items():
            atomic_write(self.out / name, draw)
            files.append(name)
        checksums = {f: sha256(self.out / f) for f in TABLE_FILES}
        body = manifest(files + [MANIFEST], checksums)
        body["run"] = asdict(self.identity)
        text = json.dumps(body, indent=2, allow_nan=False) + "\n"
        atomic_write(self.out / MANIFEST, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))
        shutil.rmtree(self.work, ignore_errors=True)
