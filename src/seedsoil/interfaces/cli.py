"""The ``seedsoil`` command line: a thin layer over the scenario loader, the API and Result.

Errors a user can fix (a bad scenario, an unknown parameter, an unwritable folder) print one
line ``error: ...`` to stderr and exit with status 2 (bad input) or 1 (could not write output).
"""

from __future__ import annotations

import difflib
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from seedsoil._version import __version__
from seedsoil.params import ParameterError, default_parameters
from seedsoil.scenario import ScenarioError, builtin_names, load_scenario

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


class EngineChoice(str, Enum):
    """Engines a run can use: per-event ('fast') or per-cell ('reference')."""

    fast = "fast"
    reference = "reference"


def _console(stderr: bool = False) -> Console:
    """A rich console; wide when piped so tables are not wrapped into unreadable columns."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def _fail(message: str, code: int = EXIT_USAGE_ERROR) -> NoReturn:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


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


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(
        metavar="SCENARIO", help="Built-in scenario name (see `seedsoil scenarios`) or a TOML file.")]
    = "default",
    patients: Annotated[int, typer.Option("--patients", "-n", min=1, help="Number of patients in the cohort.")]
    = DEFAULT_PATIENTS,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Master random seed (same seed, same result).")]
    = DEFAULT_SEED,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for tables, figures and manifest.")]
    = DEFAULT_OUT,
    engine: Annotated[EngineChoice | None, typer.Option(help="Engine; default: the scenario's.")] = None,
) -> None:
    """Simulate a cohort and write patients/lesions/funnel Parquet, figures and manifest.json to OUT."""
    try:
        scenario_obj, _params = load_scenario(scenario)
    except (ScenarioError, ParameterError) as err:
        _fail(str(err))
    from seedsoil.interfaces.api import simulate  # the engine loads only when a run is asked for
    from seedsoil.interfaces.results import print_summary

    chosen = engine.value if engine is not None else scenario_obj.engine
    console = _console()
    try:
        if _show_progress():
            with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task("patients", total=patients)
                result = simulate(scenario_obj, patients=patients, seed=seed, engine=chosen,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = simulate(scenario_obj, patients=patients, seed=seed, engine=chosen)
    except (ScenarioError, ParameterError) as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted; nothing was written", EXIT_INTERRUPTED)
    try:
        folder = result.save(out)
    except OSError as err:
        _fail(f"cannot write results to {out}: {err.strerror or err}", EXIT_OUTPUT_ERROR)
    print_summary(result, console)
    console.print(f"results written to [bold]{folder.resolve()}[/bold]")


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
        sc, _ = load_scenario(name)
        table.add_row(name, sc.engine, Text(sc.description))
    _console().print(table)


def main() -> None:
    """Console-script entry point (``seedsoil``)."""
    app()
