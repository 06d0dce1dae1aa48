"""The ``seedsoil`` command line: a thin layer over the scenario loader, the API and Result.

Errors a user can fix (a bad scenario, an unknown parameter, an unwritable folder) print one
line ``error: ...`` to stderr and exit with status 2 (bad input) or 1 (could not write output).
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer.core import TyperGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from seedsoil._version import __version__
from seedsoil.params import ParameterError, default_parameters
from seedsoil.scenario import ScenarioError, builtin_names, load_builtin, load_scenario

EXIT_OUTPUT_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERRUPTED = 130
DEFAULT_PATIENTS = 10_000
DEFAULT_SEED = 20261121
DEFAULT_OUT = Path("seedsoil-run")
PIPE_WIDTH = 160
"""Console width when output is not a terminal, so piped tables keep one row per line."""
SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.5

app = typer.Typer(
    name="seedsoil",
    help="Breast cancer metastasis from one cell to the clinic: simulate cohorts, inspect parameters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    """A rich console; wide when piped so tables are not wrapped into unreadable columns."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def _fail(message: str, code: int = EXIT_USAGE_ERROR) -> NoReturn:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    for line in str(message).splitlines() or [""]:
        typer.echo(f"error: {' '.join(line.split())}", err=True)
    raise typer.Exit(code)


def _load_or_fail(scenario: str):
    """(scenario, parameters) of a built-in name or TOML file, or one error line and exit 2."""
    try:
        return load_scenario(scenario, on_warning=_warn)
    except (ScenarioError, ParameterError) as err:
        _fail(str(err))


def _check_out_folder(out: Path | None) -> None:
    """Refuse an output path that exists and is not a folder (exit code for output errors)."""
    if out is not None and out.exists() and not out.is_dir():
        _fail(f"cannot write results to {out}: not a folder", EXIT_OUTPUT_ERROR)


def _warn(message: str) -> None:
    """Print one ``warning: ...`` line to stderr."""
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seedsoil {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Breast cancer metastasis from one cell to the clinic."""


def _show_progress() -> bool:
    """A progress bar only for a person watching: stdout is a terminal and not under CI."""
    return sys.stdout.isatty() and not os.environ.get("CI")


def _parse_count(text: str, option: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number written plainly, with underscores or as 1e6; a clear error otherwise."""
    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        _fail(f"{option} must be a whole number, not {text!r}")
    if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
        _fail(f"{option} must be a whole number, not {text!r}")
    if value < minimum:
        _fail(f"{option} must be at least {minimum}, not {text}")
    if maximum is not None and value > maximum:
        _fail(f"{option} must be at most {maximum:,}, not {text}")
    return int(value)


MAX_PATIENTS = 1_000_000_000
"""Largest cohort one run accepts (about 10 hours on 2 cores)."""
ESTIMATE_PATIENTS_PER_S = 40_000
"""Rough patients per second of the default scenario on 2 cores (benchmarks/), for the estimate."""
ESTIMATE_ABOVE_S = 60.0


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(
        metavar="SCENARIO", help="Built-in scenario name (see `seedsoil scenarios`) or a TOML file.")]
    = "default",
    patients: Annotated[str, typer.Option("--patients", "-n", metavar="N",
                                          help="Number of patients in the cohort, e.g. 10000 or 1e6.")]
    = str(DEFAULT_PATIENTS),
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Master random seed, a whole number >= 0 "
                                                                        "(same seed, same result).")]
    = str(DEFAULT_SEED),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for tables, figures and manifest.")]
    = DEFAULT_OUT,
    engine: Annotated[str | None, typer.Option(help="Engine (see `seedsoil engines`); default: the scenario's.")]
    = None,
    workers: Annotated[str | None, typer.Option("--workers", "-w", metavar="K",
                                                help="Local worker processes; default: the CPUs available.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                                                  help="Run on a Dask distributed cluster at host:port.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run of the same command in OUT.")]
    = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace another run's files in OUT.")] = False,
    chunk_patients: Annotated[str | None, typer.Option(
        "--chunk-patients", metavar="N", help="Patients per task and part file (a multiple of 1024; default 16384). "
                                              "Results do not depend on it.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write OUT/report.html (see `seedsoil report`).")]
    = False,
    ctc_draw_days: Annotated[str | None, typer.Option(
        "--ctc-draw-days", metavar="D1,D2,...",
        help="Blood draws (7.5 mL, CTC counts) on these days from diagnosis (0 = before surgery), written to "
             "ctc_draws.parquet; replaces the scenario's [measurements] ctc_draw_days.")] = None,
) -> None:
    """Simulate a cohort and write patients/lesions/funnel Parquet, figures and manifest.json to OUT
    (streamed chunk by chunk; an interrupted run is finished with --resume)."""
    n = _parse_count(patients, "--patients", maximum=MAX_PATIENTS)
    seed = _parse_count(seed, "--seed", minimum=0)
    k = None if workers is None else _parse_count(workers, "--workers")
    chunk = None if chunk_patients is None else _parse_count(chunk_patients, "--chunk-patients")
    if resume and overwrite:
        _fail("--resume and --overwrite exclude each other: resume keeps the run in OUT, overwrite replaces it")
    scenario_obj, _params = _load_or_fail(scenario)
    if ctc_draw_days is not None:
        scenario_obj = _with_draw_days(scenario_obj, ctc_draw_days)
    from seedsoil.engine import engine_names
    from seedsoil.interfaces import api  # the engine loads only when a run is asked for
    from seedsoil.interfaces.stopping import Interrupted, stop_on_signals
    from seedsoil.interfaces.store import RunFolderError

    if engine is not None and engine not in engine_names():
        _fail(f"--engine {engine!r} is not an engine; choose one of {', '.join(engine_names())}")
    chosen = engine or scenario_obj.engine
    console = _console()
    estimate = n / ESTIMATE_PATIENTS_PER_S
    if chosen == "fast" and estimate > ESTIMATE_ABOVE_S:
        console.print(f"simulating {n:,} patients: about {estimate / 60:.0f} min on 2 cores")
    stop_on_signals()
    kwargs = dict(patients=n, seed=seed, engine=chosen, workers=k, scheduler=scheduler, resume=resume,
                  overwrite=overwrite, chunk_patients=chunk)
    try:
        if _show_progress():
            with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task("patients", total=n)
                result = api.run(scenario_obj, out, **kwargs,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = api.run(scenario_obj, out, **kwargs)
    except RunFolderError as err:
        _fail(str(err))
    except ValueError as err:  # ScenarioError, ParameterError, RunError, an engine refusing the scenario
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    except (KeyboardInterrupt, Interrupted):
        _fail(f"interrupted; finished chunks are kept in {out}: run the same command with --resume to finish",
              EXIT_INTERRUPTED)
    from seedsoil.interfaces.summary import print_summary

    print_summary(result, console)
    console.print(f"results written to [bold]{Path(out).resolve()}[/bold]")
    if report:
        from seedsoil.interfaces.report import ReportError, write_report

        try:
            console.print(f"report written to [bold]{write_report(Path(out)).resolve()}[/bold]")
        except (ReportError, OSError) as err:
            _fail(f"the run is complete, but its report could not be written: {err}", EXIT_OUTPUT_ERROR)


def _with_draw_days(scenario_obj, text: str):
    """The scenario with the blood draws of ``--ctc-draw-days`` (comma-separated days), or one error line."""
    from seedsoil.scenario.model import with_ctc_draw_days

    days = []
    for part in text.split(","):
        try:
            days.append(float(part.strip()))
        except ValueError:
            _fail(f"--ctc-draw-days: {part.strip()!r} is not a number of days; give days from diagnosis "
                  "separated by commas, e.g. 0,90,365")
    try:
        return with_ctc_draw_days(scenario_obj, days)
    except ValueError as err:
        _fail(f"--ctc-draw-days: {err}")


@app.command()
def engines() -> None:
    """List the engines with what each can do."""
    from seedsoil.engine import ENGINES

    table = Table(title="Engines")
    for col in ("name", "per cell", "batch", "most units per patient", "description"):
        table.add_column(col)
    for name, cls in ENGINES.items():
        cap = cls.capabilities
        table.add_row(name, "yes" if cap.per_cell else "no", "yes" if cap.batch else "no",
                      "no limit" if cap.max_units_per_patient is None else (
                          f"{cap.max_units_per_patient:,}" if cap.max_units_per_patient < 1e9
                          else f"{cap.max_units_per_patient:.0e} (expected)"),
                      Text(cls.description))
    _console().print(table)


def _fmt(x: float) -> str:
    return f"{x:g}"


@app.command()
def params(
    text: Annotated[str, typer.Argument(
        metavar="TEXT", help="Show parameters whose name, description or source contains this.")]
    = "",
    show: Annotated[str | None, typer.Option("--show", help="Print every field of one parameter.")] = None,
) -> None:
    """List model parameters (value, unit, range, confidence) or show one in full."""
    registry = default_parameters()
    console = _console()
    if show is not None:
        if show not in registry:
            close = difflib.get_close_matches(show, list(registry), n=SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
            hint = f"; did you mean {', '.join(close)}?" if close else "; list them with `seedsoil params`"
            _fail(f"unknown parameter {show!r}{hint}")
        p = registry.meta(show)
        table = Table(title=p.name, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for label, value in (("value", _fmt(p.value)), ("unit", p.unit),
                             ("range", f"[{_fmt(p.minimum)}, {_fmt(p.maximum)}]"), ("confidence", p.confidence),
                             ("description", p.description), ("source", p.source)):
            table.add_row(label, Text(value))
        console.print(table)
        return
    needle = text.casefold()
    hits = [p for p in registry.records()
            if needle in p.name.casefold() or needle in p.description.casefold() or needle in p.source.casefold()]
    if not hits:
        _fail(f"no parameter matches {text!r}; try a shorter word")
    table = Table(title=f"{len(hits)} parameter(s)" + (f" matching {text!r}" if text else ""))
    table.add_column("name", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit")
    table.add_column("range", no_wrap=True)
    table.add_column("confidence")
    for p in hits:
        table.add_row(Text(p.name), _fmt(p.value), Text(p.unit), Text(f"[{_fmt(p.minimum)}, {_fmt(p.maximum)}]"),
                      p.confidence)
    console.print(table)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios with their engine and description."""
    table = Table(title="Built-in scenarios")
    table.add_column("name", no_wrap=True)
    table.add_column("engine")
    table.add_column("description")
    for name in builtin_names():
        sc, _ = load_builtin(name)
        table.add_row(name, sc.engine, Text(sc.description))
    _console().print(table)


@app.command()
def trials() -> None:
    """List the built-in virtual trials (run one with `seedsoil trial NAME`)."""
    from seedsoil.scenario.trial import builtin_trials, load_trial

    table = Table(title="Built-in trials")
    table.add_column("name", no_wrap=True)
    table.add_column("arms")
    table.add_column("patients", justify="right")
    table.add_column("endpoints")
    table.add_column("trial")
    for name in builtin_trials():
        t = load_trial(name)
        d = t.spec.design
        table.add_row(name, " vs ".join(t.arm_names), f"{d.patients:,}", ", ".join(d.endpoints), Text(t.spec.name))
    _console().print(table)


def _with_bar(console: Console, label: str, total: int, work, interrupted: str):
    """``work(progress)`` with a progress bar for a person watching (None otherwise); a ValueError
    is one error line (exit 2), an interrupt one line (exit 130)."""
    from seedsoil.interfaces.stopping import Interrupted, stop_on_signals

    stop_on_signals()
    try:
        if not _show_progress():
            return work(None)
        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            return work(lambda done, tot: bar.update(task, completed=done, total=tot))
    except ValueError as err:
        _fail(str(err))
    except (KeyboardInterrupt, Interrupted):
        _fail(interrupted, EXIT_INTERRUPTED)


def _save_or_fail(result, out: Path) -> list[Path]:
    """``result.save(out)``, or one error line (exit 1) when the folder cannot be written."""
    try:
        return result.save(out)
    except OSError as err:
        _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)


MAX_TRIAL_REPEATS = 1000


@app.command("trial")
def trial_command(
    trial: Annotated[str, typer.Argument(metavar="TRIAL", help="A trial TOML file or a built-in trial name "
                                                               "(`seedsoil trials` lists them).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for trial_summary.json, trial_patients.parquet "
                                                         "and one Kaplan-Meier figure per endpoint.")]
    = Path("seedsoil-trial"),
    repeats: Annotated[str, typer.Option("--repeats", "-k", metavar="K",
                                         help="Independent trials (new patients and randomisation each): with "
                                              "K > 1 the summary adds each endpoint's power (share of trials with "
                                              "log-rank p < 0.05) and the spread of hazard ratios.")] = "1",
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Master random seed, a whole number >= 0.")]
    = str(DEFAULT_SEED),
    workers: Annotated[str | None, typer.Option("--workers", "-w", metavar="K",
                                                help="Local worker processes; default: the CPUs available.")] = None,
) -> None:
    """Run a virtual trial: screen the base scenario's patients, enrol the eligible, randomise them
    to the arms (the same virtual patients in every arm, paired by the random streams), follow them
    through accrual and follow-up, and compare each arm with the first (Cox hazard ratio with 95%
    interval, log-rank p) on every endpoint."""
    from seedsoil.interfaces.trial import ENDPOINT_NAMES, run_trial
    from seedsoil.scenario.trial import load_trial

    k = _parse_count(repeats, "--repeats", maximum=MAX_TRIAL_REPEATS)
    s = _parse_count(seed, "--seed", minimum=0)
    w = None if workers is None else _parse_count(workers, "--workers")
    _check_out_folder(out)
    try:
        spec = load_trial(trial)
    except (ScenarioError, ParameterError) as err:
        _fail(str(err))
    console = _console()
    result = _with_bar(console, "simulating arms", k * len(spec.arms), lambda bar: run_trial(spec, k, s, w, progress=bar),
                       "interrupted; no trial was written")
    written = _save_or_fail(result, out)
    sm = result.summary
    table = Table(title=f"{spec.spec.name} ({sm['screened_patients']:,} screened, "
                        f"{sum(a['patients'] for a in sm['arms']):,} randomised)")
    for col in ("endpoint", "comparison", "events (control / arm)", "HR (95% CI)", "log-rank p") \
            + (("power",) if k > 1 else ()):
        table.add_column(col, justify="left" if col in ("endpoint", "comparison") else "right")
    for ep, rows in sm["endpoints"].items():
        for r in rows:
            hr = "not estimable" if r["hr"] is None else f"{r['hr']:.2f} ({r['hr_low']:.2f}-{r['hr_high']:.2f})"
            p = "" if r["p_logrank"] is None else f"{r['p_logrank']:.3g}"
            cells = [ENDPOINT_NAMES[ep], f"{r['arm']} vs {r['control']}",
                     " / ".join(f"{v:,}" for v in r["events"].values()), hr, p]
            if k > 1:
                pw = sm["power"][ep][r["arm"]]
                cells.append(f"{pw['power']:.0%} of {pw['trials']} trials")
            table.add_row(*cells)
    console.print(table)
    console.print(f"{', '.join(p.name for p in written)} written to [bold]{out.resolve()}[/bold]")


@app.command("journey")
def journey_command(
    scenario: Annotated[str, typer.Argument(metavar="[SCENARIO]", help="Built-in scenario name or TOML file.")]
    = "default",
    patient: Annotated[str | None, typer.Option("--patient", "-p", metavar="N",
                                                help="Tell the story of patient N (row N of patients.parquet of a "
                                                     "run of this scenario and seed, whatever its length).")] = None,
    subtype: Annotated[str | None, typer.Option("--subtype", metavar="S",
                                                help="Without --patient: the first patient of this subtype who "
                                                     "relapses (luminal_a, luminal_b, her2, triple_negative).")] = None,
    histology: Annotated[str | None, typer.Option("--histology", metavar="H",
                                                  help="Without --patient: ... of this histology (idc, ilc).")] = None,
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Master random seed, a whole number >= 0.")]
    = str(DEFAULT_SEED),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write journey.png (the timeline figure) "
                                                                 "and journey.csv (the events) here.")] = None,
) -> None:
    """One patient's story in plain words, from the first cell in a milk duct to death or the end
    of follow-up, and a timeline figure with the primary's size, her metastases and treatments."""
    from seedsoil.interfaces.journey import journey
    from seedsoil.scenario.model import HISTOLOGIES, SUBTYPES

    n = None if patient is None else _parse_count(patient, "--patient", minimum=0, maximum=MAX_PATIENTS - 1)
    s = _parse_count(seed, "--seed", minimum=0)
    if patient is not None and (subtype or histology):
        _fail("--patient picks one patient; --subtype and --histology choose one when --patient is not given")
    if subtype is not None and subtype not in SUBTYPES:
        _fail(f"--subtype {subtype!r}: allowed {', '.join(SUBTYPES)}")
    if histology is not None and histology not in HISTOLOGIES:
        _fail(f"--histology {histology!r}: allowed {', '.join(HISTOLOGIES)}")
    _check_out_folder(out)
    sc, p = _load_or_fail(scenario)
    try:
        j = journey(sc, p, sc.engine, s, n, subtype, histology)
    except ValueError as err:
        _fail(str(err))
    typer.echo(j.story())
    if out is not None:
        from seedsoil.interfaces.plots import write_figure

        try:
            out.mkdir(parents=True, exist_ok=True)
            write_figure(j.figure(), out / "journey.png")
            j.events.to_csv(out / "journey.csv", index=False)
        except OSError as err:
            _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
        typer.echo(f"journey.png, journey.csv written to {out.resolve()}")


MAX_TWIN_REPLICATES = 10_000


@app.command("twins")
def twins_command(
    covariates: Annotated[Path, typer.Argument(
        metavar="COVARIATES.csv",
        help="One row per real patient: tumor_size_mm and positive_nodes (required); age, menopausal (pre/post), "
             "grade (1-3), er, pr, her2 (0/1, yes/no or pos/neg), histology (idc/ilc), pn (pN0 ... pN3a), "
             "endocrine_therapy, chemotherapy, anti_her2, radiotherapy (0/1), follow_up_days (optional).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for patients.parquet (one row per input row and "
                                                         "replicate), lesions.parquet, twins_rows.csv, "
                                                         "twins_summary.json and km_twins.png.")]
    = Path("seedsoil-twins"),
    replicates: Annotated[str, typer.Option("--replicates", "-r", metavar="R",
                                            help="Twins simulated per input row.")] = "1",
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Master random seed, a whole number >= 0.")]
    = str(DEFAULT_SEED),
    scenario: Annotated[str, typer.Option("--scenario", metavar="SCENARIO",
                                          help="Built-in scenario name or TOML file: the model, the era's "
                                               "guideline for therapies a row leaves blank, the follow-up for "
                                               "rows without follow_up_days.")] = "default",
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Skip a bad row (or one the model cannot "
                                                                       "match) with one warning instead of "
                                                                       "stopping.")] = False,
    max_candidates: Annotated[str, typer.Option("--max-candidates", metavar="N",
                                                help="Candidates simulated per row at most while looking for "
                                                     "twins with the observed node count.")] = "100000",
) -> None:
    """Virtual twins of real patients: each row's course simulated conditioned on what was
    observed at diagnosis. Tumour size and every given covariate are fixed; the positive node
    count is matched by rejection (candidates are simulated until surgery and kept when the
    axillary surgery finds exactly that many positive nodes), so it comes from the simulated
    spread of a tumour of that size."""
    from seedsoil.interfaces.trial import ENDPOINT_NAMES
    from seedsoil.interfaces.twins import simulate_twins
    from seedsoil.interfaces.twins_input import read_twins

    r = _parse_count(replicates, "--replicates", maximum=MAX_TWIN_REPLICATES)
    s = _parse_count(seed, "--seed", minimum=0)
    m = _parse_count(max_candidates, "--max-candidates", maximum=MAX_PATIENTS)
    _check_out_folder(out)
    sc, p = _load_or_fail(scenario)
    try:
        table = read_twins(covariates, sc, p, skip_bad_rows=skip_bad_rows, warn=_warn)
    except ValueError as err:
        _fail(str(err))
    console = _console()
    result = _with_bar(console, "simulating twins", len(table) * r,
                       lambda bar: simulate_twins(table, sc, p, replicates=r, seed=s, max_candidates=m,
                                                  skip_unmatched=skip_bad_rows, warn=_warn, progress=bar),
                       "interrupted; no twins were written")
    written = _save_or_fail(result, out)
    sm = result.summary
    table_out = Table(title=f"{sm['rows_matched']:,} of {sm['rows']:,} rows x {r} replicate{'s' * (r != 1)} "
                            f"({sm['conditioning']['candidates']:,} candidates simulated)")
    for col in ("endpoint", "twins", "events", "median (years)", "5 years (95% CI)", "10 years (95% CI)"):
        table_out.add_column(col, justify="left" if col == "endpoint" else "right")
    for ep in ("dfs", "dmfs", "os"):
        e = sm["endpoints"][ep]
        at = {x["years"]: x for x in e["survival"]}

        def cell(y, at=at):
            x = at.get(y)
            return "" if x is None else f"{x['survival']:.1%} ({x['lower_95']:.1%}-{x['upper_95']:.1%})"

        table_out.add_row(ENDPOINT_NAMES[ep], f"{e['n']:,}", f"{e['events']:,}",
                          "not reached" if e["median_years"] is None else f"{e['median_years']:.1f}", cell(5), cell(10))
    console.print(table_out)
    console.print(f"{', '.join(p.name for p in written)} written to [bold]{out.resolve()}[/bold]")


@app.command("sensitivity")
def sensitivity_command(
    scenario: Annotated[str, typer.Argument(metavar="[SCENARIO]", help="Built-in scenario name or TOML file.")]
    = "default",
    method: Annotated[str, typer.Option("--method", "-m", help="morris (screening, cheap) or sobol (variance "
                                                               "indices, Saltelli sampling).")] = "morris",
    parameters: Annotated[str | None, typer.Option("--parameters", metavar="P1,P2,...",
                                                   help="Parameters to vary (see `seedsoil params`); default: "
                                                        "twelve main ones (cascade scales, soils, dormancy, "
                                                        "death hazard, liver growth, brain barrier, CXCR4).")] = None,
    span: Annotated[str, typer.Option("--span", metavar="F", help="Each parameter varies from value/F to value*F "
                                                                 "(log scale, within its allowed range).")] = "2",
    patients: Annotated[str, typer.Option("--patients", "-n", metavar="N", help="Patients per cohort.")] = "5000",
    trajectories: Annotated[str, typer.Option("--trajectories", metavar="R",
                                              help="Morris trajectories (R x (parameters + 1) cohorts).")] = "8",
    samples: Annotated[str, typer.Option("--samples", metavar="N",
                                         help="Sobol base samples, a power of 2 (N x (parameters + 2) cohorts).")]
    = "32",
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Seed of every cohort and of the sampler.")]
    = str(DEFAULT_SEED),
    workers: Annotated[str | None, typer.Option("--workers", "-w", metavar="K",
                                                help="Cohorts simulated at once; default: the CPUs available.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for sensitivity.csv, sensitivity_samples.csv, "
                                                         "sensitivity.json and the tornado figure sensitivity.png.")]
    = Path("seedsoil-sensitivity"),
) -> None:
    """Global sensitivity of the main outputs (distant relapse by 10 years; share of relapses with
    bone, liver, lung and brain involvement; median survival after relapse; de novo stage IV) to
    the model's parameters, with SALib; every cohort on the same seed (common random numbers)."""
    from seedsoil.interfaces.execution import default_workers
    from seedsoil.interfaces.sensitivity import DEFAULT_PARAMETERS, METHODS, run_sensitivity

    if method not in METHODS:
        _fail(f"--method {method!r}: allowed {', '.join(METHODS)}")
    try:
        f = float(span)
    except ValueError:
        _fail(f"--span must be a number above 1, not {span!r}")
    n = _parse_count(patients, "--patients", minimum=200, maximum=MAX_PATIENTS)
    r = _parse_count(trajectories, "--trajectories", minimum=2, maximum=1000)
    k = _parse_count(samples, "--samples", minimum=2, maximum=1 << 16)
    s = _parse_count(seed, "--seed", minimum=0)
    w = default_workers() if workers is None else _parse_count(workers, "--workers")
    names = DEFAULT_PARAMETERS if parameters is None else tuple(x.strip() for x in parameters.split(",") if x.strip())
    _check_out_folder(out)
    sc, p = _load_or_fail(scenario)
    console = _console()
    n_par = len(names)
    total = r * (n_par + 1) if method == "morris" else k * (n_par + 2)
    result = _with_bar(console, "simulating cohorts", total,
                       lambda bar: run_sensitivity(sc, p, method=method, parameters=names, span=f, patients=n,
                                                   trajectories=r, samples=k, seed=s, workers=w, progress=bar),
                       "interrupted; no sensitivity analysis was written")
    written = _save_or_fail(result, out)
    key = "mu_star" if method == "morris" else "ST"
    table = Table(title=f"Most influential parameter per output ({method}, {result.summary['cohorts']} cohorts of "
                        f"{n:,} patients, {result.summary['run_s']:.0f} s)")
    for col in ("output", "parameter", key, "second"):
        table.add_column(col)
    for out_name, g in result.indices.groupby("output", sort=False):
        g = g.sort_values(key, ascending=False)
        second = f"{g['parameter'].iloc[1]} ({g[key].iloc[1]:.3g})" if len(g) > 1 else ""
        table.add_row(out_name, g["parameter"].iloc[0], f"{g[key].iloc[0]:.3g}", second)
    console.print(table)
    console.print(f"{', '.join(x.name for x in written)} written to [bold]{out.resolve()}[/bold]")


@app.command("calibrate")
def calibrate_command(
    config: Annotated[str, typer.Argument(metavar="CONFIG", help="A calibration TOML file or a built-in one "
                                                                 "(site_soils).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the ABC database, posterior.csv, "
                                                         "posterior_summary.csv, fit.csv, fitted_scenario.toml, "
                                                         "calibration.json and posterior.png.")]
    = Path("seedsoil-calibration"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue the calibration in OUT (more generations "
                                                          "if abc.generations was raised).")] = False,
    workers: Annotated[str | None, typer.Option("--workers", "-w", metavar="K",
                                                help="Simulations at once; default: the CPUs available.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                                                  help="Run the simulations on a Dask cluster at host:port.")] = None,
) -> None:
    """Fit chosen parameters to chosen published targets by ABC-SMC (pyabc): a posterior per
    parameter, the fit of every target before and after, and a scenario file of the fitted values."""
    from seedsoil.interfaces.calibrate import run_calibration
    from seedsoil.interfaces.execution import RunError, dask_client, default_workers
    from seedsoil.scenario.calibration import load_calibration

    w = default_workers() if workers is None else _parse_count(workers, "--workers")
    _check_out_folder(out)
    try:
        cal = load_calibration(config)
    except (ScenarioError, ParameterError) as err:
        _fail(str(err))
    client = None
    if scheduler is not None:
        try:
            client = dask_client(scheduler)
        except RunError as err:
            _fail(str(err))
    console = _console()
    console.print(f"calibrating {', '.join(cal.names)} to {len(cal.targets)} targets: "
                  f"{cal.spec.abc.particles} particles, up to {cal.spec.abc.generations} generations, "
                  f"{cal.spec.patients:,} patients per simulation, {w} worker{'s' * (w != 1)}")
    try:
        result = _with_bar(console, "calibrating", 1, lambda _bar: run_calibration(cal, out, workers=w, resume=resume,
                                                                                    scheduler=client),
                           f"interrupted; the generations done are kept in {out}: --resume continues")
    finally:
        if client is not None:
            client.close()
    written = _save_or_fail(result, out)
    table = Table(title=f"{cal.spec.name}: {result.summary['generations_done']} generations, "
                        f"{result.summary['simulations']:,} simulations, {result.summary['run_s']:.0f} s")
    for col in ("parameter", "default", "posterior median (95%)"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in result.summary_table.itertuples():
        table.add_row(r.parameter, f"{r.default:.4g}",
                      f"{r.posterior_median:.4g} ({r.posterior_q2_5:.4g}-{r.posterior_q97_5:.4g})")
    console.print(table)
    tp = result.summary["targets_passed"]
    console.print(f"targets within their bands: {tp['default']} of {tp['of']} at the defaults, {tp['fitted']} at the "
                  "posterior medians (fit.csv)")
    console.print(f"{', '.join(x.name for x in written)} written to [bold]{out.resolve()}[/bold]")


@app.command("report")
def report_command(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A folder written by seedsoil run, trial, validate "
                                                               "or twins.")],
) -> None:
    """Write DIR/report.html: one self-contained page (figures embedded, nothing fetched) with what
    the folder holds: a run's scenario, cohort, survival curves by subtype and stage, relapse sites,
    cascade funnel, survival after relapse by site and a few patients' journeys; a trial's arms and
    hazard ratios; a validation's targets and figures; twins' survival."""
    from seedsoil.interfaces.report import ReportError, write_report

    try:
        path = write_report(folder)
    except ReportError as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot write {folder / 'report.html'}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    typer.echo(f"report written to {path.resolve()}")


@app.command("app")
def app_command(
    host: Annotated[str, typer.Option("--host", help="Address to serve on; 127.0.0.1 (the default) lets only this "
                                                     "machine in.")] = "127.0.0.1",
    port: Annotated[str, typer.Option("--port", "-p", metavar="P", help="Port to serve on.")] = "8050",
) -> None:
    """A local dashboard in the browser: pick or upload a scenario, change the main parameters and
    the subtype mix, run a cohort with a progress bar and see the report's figures; follow one
    patient; compare two settings on the same patients."""
    k = _parse_count(port, "--port", minimum=1, maximum=65535)
    try:
        from seedsoil.interfaces.app import serve
    except ImportError:
        _fail("the dashboard needs Dash: pip install 'seedsoil[app]'")
    if host not in ("127.0.0.1", "localhost", "::1"):
        _warn(f"--host {host}: the dashboard is served to every machine that can reach this one on port {k}, and "
              "anyone who opens it can run simulations here")
    else:
        typer.echo(f"seedsoil dashboard on http://{host}:{k}/ (bound to {host}: only this machine can open it; "
                   "Ctrl-C stops it)")
    try:
        serve(host, k)
    except OSError as err:
        _fail(f"cannot serve on {host}:{k}: {err.strerror or err}")


ASSAY_NAMES = ("intravenous", "intraportal", "intracardiac", "orthotopic")
DEFAULT_ASSAY_CELLS = "100000"
DEFAULT_OBSERVE = "1,3,13"
DEFAULT_COUMANS_PATIENTS = 500


def _parse_cells(text: str) -> int:
    """``--cells``: a whole number of cells >= 1, written plainly or as 1e5."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        _fail(f"--cells must be a whole number of cells, not {text!r}")
    if not (value == value and value not in (float("inf"), float("-inf"))) or not value.is_integer():
        _fail(f"--cells must be a whole number of cells, not {text!r}")
    if value < 1:
        _fail(f"--cells must be at least 1, not {text}")
    return int(value)


def _parse_days(text: str) -> list[float]:
    """``--observe``: comma-separated positive numbers of days."""
    parts = [s.strip() for s in text.split(",")]
    if not text.strip() or any(not s for s in parts):
        _fail(f"--observe must be comma-separated days such as 1,3,13, not {text!r}")
    days = []
    for s in parts:
        try:
            d = float(s)
        except ValueError:
            _fail(f"--observe: {s!r} is not a number of days")
        if not (d > 0 and d != float("inf")):
            _fail(f"--observe: days must be positive numbers, not {s}")
        days.append(d)
    return days


@app.command("assay")
def assay_command(
    name: Annotated[str, typer.Argument(
        metavar="ASSAY", help="intravenous (lung first), intraportal (liver first), intracardiac or orthotopic.")],
    cells: Annotated[str, typer.Option(
        "--cells", "-n", metavar="N", help="Cells injected (orthotopic: implanted in the fat pad), e.g. 100000 or 1e5.")]
    = DEFAULT_ASSAY_CELLS,
    observe: Annotated[str, typer.Option(
        "--observe", metavar="DAYS", help="Observation days after injection, comma-separated.")] = DEFAULT_OBSERVE,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Random seed (same seed, same counts).")]
    = DEFAULT_SEED,
    clusters: Annotated[int, typer.Option(
        "--clusters", metavar="SIZE", help="Inject clusters of SIZE cells instead of single cells (1 = single cells) "
                                           "and report their metastatic potential per cell against single cells.")] = 1,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only one JSON object {day: {stage: {count, fraction}}}.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for assay_funnel.png and assay.json.")] = None,
    patients: Annotated[int, typer.Option(
        "--patients", help="Orthotopic: human patients simulated for the metastases-per-disseminated-cell "
                           "comparison with Coumans 2013 (0 skips it).")] = DEFAULT_COUMANS_PATIENTS,
) -> None:
    """Mouse metastasis assays: count injected cells by stage (circulating, arrested, extravasated,
    dead, dormant, micro- and macrometastases) at each observation day."""
    if name not in ASSAY_NAMES:
        close = difflib.get_close_matches(name, ASSAY_NAMES, n=1, cutoff=SUGGESTION_CUTOFF)
        hint = f"; did you mean {close[0]}?" if close else ""
        _fail(f"unknown assay {name!r}: choose one of {', '.join(ASSAY_NAMES)}{hint}")
    n_cells = _parse_cells(cells)
    days = _parse_days(observe)
    if clusters < 1:
        _fail(f"--clusters must be at least 1 (cells per cluster), not {clusters}")
    if patients < 0:
        _fail(f"--patients must be 0 or more, not {patients}")
    _check_out_folder(out)
    from seedsoil.engine.assay import AssayError  # the engine loads only when an assay is asked for
    from seedsoil.interfaces.assays import run_assay

    human = patients if (name == "orthotopic" and not json_output) else 0
    try:
        result = run_assay(name, n_cells, days, seed, clusters=clusters, human_patients=human)
    except (AssayError, ParameterError) as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
    if out is not None:
        try:
            result.save(out)
        except OSError as err:
            _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    if json_output:
        typer.echo(result.to_json())
        return
    _print_assay(result, _console(), out)


def _top_organs(organs, counts, shown: int = 3) -> str:
    """'lung 218, liver 22, other 18 +4' for a table cell; '-' when none."""
    ranked = [(o, int(c)) for o, c in sorted(zip(organs, counts), key=lambda x: -x[1]) if c]
    text = ", ".join(f"{o} {c:,}" for o, c in ranked[:shown])
    return (text + (f" +{len(ranked) - shown}" if len(ranked) > shown else "")) or "-"


def _print_assay(result, console: Console, out: Path | None) -> None:
    """The funnel table, the published values beside the model's, and the comparisons."""
    from seedsoil.engine.assay import STAGES
    from seedsoil.interfaces.assays import ACETO_RANGE, STAGE_LABELS, format_fraction

    f = result.funnel
    unit = "cells" if f.cells_per_unit == 1.0 else f"units of {f.cells_per_unit:g} cells"
    if result.assay == "orthotopic":
        title = (f"orthotopic assay: {f.meta['cells']:,} cells implanted, {f.meta['units']:,} units shed into blood "
                 f"(seed {f.seed}); counts and fractions of units shed by each day")
    else:
        title = f"{result.assay} assay: {f.meta['units']:,} {unit} injected (seed {f.seed}); fraction of injected"
    table = Table(title=title)
    table.add_column("stage", no_wrap=True, min_width=22)
    frac = f.fractions()
    for day in f.days:
        table.add_column(f"day {day:g}", justify="right", no_wrap=True)
    for j, stage in enumerate(STAGES):
        table.add_row(STAGE_LABELS[stage], *[f"{int(f.counts[i, j]):,} ({format_fraction(frac[i, j])})"
                                             for i in range(len(f.days))])
    table.add_row("arrested, top organs", *[Text(_top_organs(f.organs, f.arrested_by_organ[i]))
                                             for i in range(len(f.days))])
    if f.primary_cells is not None:
        table.add_row("primary tumour (cells)", *[f"{c:.3g}" for c in f.primary_cells])
    console.print(table)
    for ref, model in result.references():
        label = "alive (any stage)" if ref.stage == "alive" else STAGE_LABELS[ref.stage]
        console.print(f"day {ref.day:g}, {label}: model {format_fraction(model)} vs {ref.value:g} ({ref.source})")
    if result.potential is not None:
        pot = result.potential
        console.print(f"metastatic potential of {pot.cluster_size}-cell clusters vs single cells ({pot.assay}, "
                      f"macroscopic metastases per injected cell at day {pot.day:g}): {pot.ratio:.1f}x per cell, "
                      f"{pot.unit_ratio:.0f}x per unit (Aceto et al. 2014: {ACETO_RANGE[0]:g}-{ACETO_RANGE[1]:g}x)")
    if result.efficiency is not None:
        eff = result.efficiency
        console.print(f"human model, {eff.patients:,} patients (default scenario, fast engine): {eff.colonies:,} "
                      f"metastases from {eff.shed:.3g} units shed = 1 per {eff.units_per_metastasis:.2g} disseminated "
                      f"units (Coumans et al. 2013: 1 per {eff.reference_cells_per_metastasis:.0e} cells)")
    if out is not None:
        console.print(f"funnel figure and assay.json written to [bold]{Path(out).resolve()}[/bold]")


DEFAULT_VALIDATE_PATIENTS = 20_000


@app.command("validate")
def validate_command(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for validation.csv, validation.json, one figure per theme and the runs "
                            "themselves (OUT/run/<run name>, each reused when it holds the same run); default: print "
                            "only, the runs go to a temporary folder.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with status 1 when any target fails.")] = False,
    patients: Annotated[str, typer.Option("--patients", "-n", metavar="N",
                                          help="Patients in each cohort run (the default scenario and up to 11 "
                                               "treatment variants of it on the same patients), e.g. 20000 or 1e5.")]
    = str(DEFAULT_VALIDATE_PATIENTS),
    seed: Annotated[str, typer.Option("--seed", "-s", metavar="S", help="Master random seed, a whole number >= 0.")]
    = str(DEFAULT_SEED),
    workers: Annotated[str | None, typer.Option("--workers", "-w", metavar="K",
                                                help="Local worker processes; default: the CPUs available.")] = None,
) -> None:
    """Run the default model against every published target (seedsoil/analysis/targets.csv): print
    target, source, simulated value with its 95% Monte-Carlo interval, published value, tolerance
    and pass/fail; --out also writes validation.csv, validation.json and a figure per theme."""
    n = _parse_count(patients, "--patients", maximum=MAX_PATIENTS)
    s = _parse_count(seed, "--seed", minimum=0)
    k = None if workers is None else _parse_count(workers, "--workers")
    _check_out_folder(out)
    from seedsoil.interfaces import validation  # the engine loads only when a validation is asked for
    from seedsoil.interfaces.stopping import Interrupted, stop_on_signals
    from seedsoil.interfaces.store import RunFolderError

    console = _console()
    stop_on_signals()
    try:
        if _show_progress():
            with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task("patients", total=n)
                result = validation.validate(n, s, k, out, progress=lambda done, total: bar.update(
                    task, completed=done, total=total))
        else:
            result = validation.validate(n, s, k, out)
    except RunFolderError:
        _fail(f"{Path(out) / validation.RUN_FOLDER} holds another run than this validation's ({n:,} patients, "
              f"seed {s}): remove it or choose another --out")
    except ValueError as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot write results to {out if out is not None else 'a temporary folder'}: {err.strerror or err}",
              EXIT_OUTPUT_ERROR)
    except (KeyboardInterrupt, Interrupted):
        _fail("interrupted; nothing was validated", EXIT_INTERRUPTED)
    written = []
    if out is not None:
        try:
            written = result.save(out)
        except OSError as err:
            _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    validation.print_table(result, console)
    if written:
        console.print(f"{', '.join(p.name for p in written)} written to [bold]{Path(out).resolve()}[/bold]")
    if strict and not result.all_passed:
        typer.echo(f"--strict: {result.failed} of {len(result.table)} targets fail", err=True)
        raise typer.Exit(1)


# -- seedsoil organ -----------------------------------------------------------------------------------
ORGAN_HELP = ("One organ as soil: `seedsoil organ bone` solves the bone remodelling model (vicious cycle, "
              "bone agents, SBML export); `seedsoil organ ORGAN` shows any other organ's soil and what the "
              "cascade makes of it; `seedsoil organ list` lists them all.")


def _organ_names() -> tuple[str, ...]:
    from seedsoil.biology.organs import ORGANS

    return ("list",) + ORGANS


class _OrganGroup(TyperGroup):
    """`seedsoil organ NAME`: an unknown organ is one error line listing the allowed names."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and not name.startswith("-") and self.get_command(ctx, name) is None \
                and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, _organ_names(), n=1, cutoff=SUGGESTION_CUTOFF)
            hint = f"; did you mean {close[0]}?" if close else ""
            _fail(f"unknown organ {name!r}: choose one of {', '.join(_organ_names())}{hint}")
        return super().resolve_command(ctx, args)


organ_app = typer.Typer(name="organ", help=ORGAN_HELP, no_args_is_help=True, cls=_OrganGroup,
                        pretty_exceptions_enable=False)
app.add_typer(organ_app, name="organ")

ScenarioArg = Annotated[str, typer.Argument(
    metavar="SCENARIO", help="Built-in scenario name or TOML file whose parameters are used.")]


def _parse_positive_days(text: str, option: str = "--days") -> float:
    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        _fail(f"{option} must be a positive number of days, not {text!r}")
    if not (value == value and value not in (float("inf"), float("-inf")) and value > 0):
        _fail(f"{option} must be a positive number of days, not {text}")
    return value


@organ_app.command("list")
def organ_list(scenario: ScenarioArg = "default") -> None:
    """List every organ with its soil: blood flow, CXCL12, extravasation ease, soil fit, growth,
    detection size, tolerated burden and symptoms."""
    from seedsoil.interfaces.organ import print_soil

    _, params = _load_or_fail(scenario)
    print_soil(_console(), params)


@organ_app.command("bone")
def organ_bone(
    scenario: ScenarioArg = "default",
    days: Annotated[str | None, typer.Option(
        "--days", metavar="D", help="Days to simulate (default: 400 komarova2003, 1200 ayati2010, 3000 seedsoil).")]
    = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for bone_course.csv/.parquet and bone.png.")]
    = ...,
    model: Annotated[str, typer.Option(
        "--model", help="seedsoil (the scenario's parameters: a lesion from one cell with the PTHrP/RANKL/TGF-beta "
                        "loop), komarova2003 or ayati2010.")] = "seedsoil",
    pthrp: Annotated[float | None, typer.Option(
        "--pthrp", metavar="X", help="The tumour's PTHrP trait in [0, 1] (default for seedsoil: the cohort's mean "
                                     "of the subtype defaults; ayati2010: 1, the published model).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Table format: csv or parquet.")] = "csv",
    export_sbml: Annotated[Path | None, typer.Option(
        "--export-sbml", metavar="FILE", help="Also write the model with its parameters and agents as SBML.")] = None,
    denosumab: Annotated[list[str] | None, typer.Option(
        "--denosumab", metavar="DOSE_MG,INTERVAL_DAYS[,START[,STOP]]",
        help="Denosumab schedule, e.g. 120,28 (repeatable).")] = None,
    zoledronic_acid: Annotated[list[str] | None, typer.Option(
        "--zoledronic-acid", metavar="DOSE_MG,INTERVAL_DAYS[,START[,STOP]]",
        help="Zoledronic acid schedule, e.g. 4,28 (repeatable).")] = None,
    agent: Annotated[list[str] | None, typer.Option(
        "--agent", metavar="DRUG=DOSE_MG,INTERVAL_DAYS[,START[,STOP]]",
        help="Any bone agent by name (denosumab, zoledronic_acid), repeatable.")] = None,
) -> None:
    """Solve the bone remodelling model (osteoclasts, osteoblasts, bone mass, tumour, PTHrP and
    TGF-beta) and write its course, a figure and optionally SBML."""
    from seedsoil.interfaces import organ as organ_mod

    d = None if days is None else _parse_positive_days(days)
    if model not in organ_mod.BONE_MODELS:
        _fail(f"--model {model!r} is not a bone model; choose one of {', '.join(organ_mod.BONE_MODELS)}")
    if fmt not in organ_mod.FORMATS:
        _fail(f"--format {fmt!r}: choose one of {', '.join(organ_mod.FORMATS)}")
    try:
        agents = [organ_mod.parse_schedule("denosumab", s) for s in denosumab or ()]
        agents += [organ_mod.parse_schedule("zoledronic_acid", s) for s in zoledronic_acid or ()]
        agents += [organ_mod.parse_agent(s) for s in agent or ()]
        organ_mod.bone_parameters(model, default_parameters(), pthrp)  # option checks before the scenario
    except organ_mod.OrganError as err:
        _fail(str(err))
    _check_out_folder(out)
    if export_sbml is not None and export_sbml.is_dir():
        _fail(f"--export-sbml {export_sbml}: is a folder; give a file name such as bone.xml")
    scenario_obj, params = _load_or_fail(scenario)
    if model == "seedsoil" and pthrp is None:
        pthrp = organ_mod.cohort_pthrp(scenario_obj.cohort.subtype_shares.model_dump(), params)
    from seedsoil.interfaces.sbml import SBMLExportError

    try:
        run = organ_mod.run_bone(model, params, d, pthrp, agents)
    except (organ_mod.OrganError, SBMLExportError, ValueError) as err:
        _fail(str(err))
    except RuntimeError as err:
        _fail(str(err), EXIT_OUTPUT_ERROR)
    try:
        written = organ_mod.save_bone(run, out, fmt, export_sbml)
    except (organ_mod.OrganError, SBMLExportError) as err:
        _fail(str(err))
    except OSError as err:
        _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    console = _console()
    organ_mod.print_bone(console, run, params)
    console.print(f"{', '.join(p.name for p in written)} written to [bold]{Path(out).resolve()}[/bold]"
                  + (f" and [bold]{export_sbml.resolve()}[/bold]" if export_sbml is not None else ""))


def _organ_command(name: str):
    def command(scenario="default", out=...) -> None:
        from seedsoil.interfaces import organ as organ_mod

        _check_out_folder(out)
        _, params = _load_or_fail(scenario)
        try:
            profile = organ_mod.organ_profile(name, params)
            path = organ_mod.save_organ(profile, out)
        except organ_mod.OrganError as err:
            _fail(str(err))
        except OSError as err:
            _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
        console = _console()
        organ_mod.print_organ(console, profile, params)
        console.print(f"{path.name} written to [bold]{Path(out).resolve()}[/bold]")

    command.__annotations__ = {  # real objects: the help names the organ (annotations are strings here)
        "scenario": ScenarioArg,
        "out": Annotated[Path, typer.Option("--out", "-o", help=f"Folder for {name}.png.")],
        "return": None,
    }
    command.__name__ = f"organ_{name}"
    extra = (" For the brain also how HER2, the BBB programme, brain metabolism and the neuregulin response "
             "change crossing and survival.") if name == "brain" else ""
    command.__doc__ = (f"The {name.replace('_', ' ')} as soil: its soil row and, per subtype, the share of arrested "
                       f"units, extravasation and colonisation odds against the mean over organs ({name}.png).{extra}")
    return command


def _register_organs() -> None:
    from seedsoil.biology.organs import ORGANS

    for name in ORGANS:
        if name != "bone":
            organ_app.command(name)(_organ_command(name))


_register_organs()


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Click's UsageError and Abort classes: typer >= 0.2x ships its own copy of click, older
    typer uses the click package; catch both."""
    usage, abort = [], []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(name, fromlist=["UsageError"])
        except ImportError:
            continue
        usage.append(mod.UsageError)
        if hasattr(mod, "Abort"):
            abort.append(mod.Abort)
    return tuple(usage), tuple(abort) + (typer.Abort,)


def main() -> None:
    """Console-script entry point (``seedsoil``): usage errors (a bad option value, an unknown
    option or command) are one ``error:`` line with exit status 2, like scenario errors."""
    usage_errors, aborts = _click_errors()
    if len(sys.argv) <= 1:
        app()  # no arguments: the help page
        return
    try:
        code = app(standalone_mode=False)
    except usage_errors as err:
        hint = f" (see `seedsoil {err.ctx.command_path.split(' ', 1)[1]} --help`)" if err.ctx and " " in \
            err.ctx.command_path else " (see `seedsoil --help`)"
        typer.echo(f"error: {' '.join(err.format_message().split())}{hint}", err=True)
        sys.exit(EXIT_USAGE_ERROR)
    except aborts:
        typer.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)
