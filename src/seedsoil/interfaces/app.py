"""A local dashboard (issue 13 part 2), built with Dash: callbacks update parts of the page
without reloading it, it runs on the Flask server it ships with (loopback by default), it needs
no JavaScript build, and a real browser drives it in the tests.

Three views, one above the other: "Cohort" (a built-in scenario or an uploaded TOML file, the
main parameters with widgets whose ranges come from the parameter registry, the subtype mix, a
run with a progress bar, the report's cohort figures and its survival after relapse by site);
"Follow one patient" (the journey of patient N of that cohort); "Compare" (the cohort against
the same patients with one parameter or therapy changed, paired by the random streams). Any bad
input shows, in the page, the one line the command line gives."""

from __future__ import annotations

import base64
import threading
import uuid

from seedsoil.interfaces.plots import png_data_url
from seedsoil.params import ParameterError, default_parameters
from seedsoil.scenario import SUBTYPES, ScenarioError, builtin_names, load_scenario, scenario_from_dict
from seedsoil.scenario.load import _parse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
APP_PARAMETERS = ("dissemination.human_shedding_scale", "colonisation.human_scale", "organ.bone.soil_fit",
                  "organ.liver.soil_fit", "organ.lung.soil_fit", "organ.brain.soil_fit", "homing.cxcr4_strength",
                  "dormancy.awakening_rate_per_year")
"""The parameters the dashboard shows as widgets (every other one through an uploaded TOML file)."""
MAX_APP_PATIENTS = 200_000
POLL_MS = 400
COMPARE_THERAPIES = ("none", "endocrine", "chemotherapy", "anti_her2", "her2_tki", "bone_agent", "radiotherapy")
_JOBS: dict[str, dict] = {}
_LOCK = threading.Lock()


def _wid(name: str) -> str:
    """A parameter's widget id (Dash ids may not hold dots)."""
    return "param-" + name.replace(".", "__")


def build_scenario(base: str, upload: str | None, values: dict[str, object], shares: dict[str, object],
                   patients: object, seed: object):
    """(scenario, parameters, patients, seed) from the widgets, or ValueError with the line the
    command line would print (the scenario loader's own messages)."""
    if upload:
        _, _, b64 = upload.partition(",")
        text = base64.b64decode(b64).decode("utf-8", errors="replace")
        sc, _ = scenario_from_dict(_parse(text, "<uploaded scenario>"), "<uploaded scenario>")
    else:
        sc, _ = load_scenario(base)
    d = sc.model_dump(mode="python")
    for name, raw in values.items():
        d["parameters"][name] = _number(raw, f"parameters.{name}")
    d["cohort"]["subtype_shares"] = {s: _number(shares[s], f"cohort.subtype_shares.{s}") for s in SUBTYPES}
    sc, p = scenario_from_dict(d, "<dashboard>")
    n, s = _number(patients, "patients"), _number(seed, "seed")
    if not float(n).is_integer() or not 1 <= n <= MAX_APP_PATIENTS:
        raise ValueError(f"patients must be a whole number from 1 to {MAX_APP_PATIENTS:,}, not {patients}")
    if not float(s).is_integer() or s < 0:
        raise ValueError(f"--seed must be a whole number >= 0, not {seed}")
    return sc, p, int(n), int(s)


def _number(raw, key: str) -> float:
    try:
        return float(str(raw).strip())
    except (TypeError, ValueError):
        raise ValueError(f"<dashboard>: {key} = {raw!r}: must be a number") from None


def _run_job(job: str, sc, p, n: int, s: int, compare: dict | None) -> None:
    """Simulate in the background, recording progress (and the second arm of a comparison)."""
    from seedsoil.interfaces.api import simulate

    def progress(done, total, offset=0.0, scale=1.0):
        with _LOCK:
            _JOBS[job]["progress"] = offset + scale * done / max(total, 1)

    try:
        scale = 0.5 if compare else 1.0
        a = simulate(sc, params=p, patients=n, seed=s, workers=1, progress=lambda d, t: progress(d, t, 0.0, scale))
        b = None
        if compare:
            b = simulate(compare["scenario"], params=compare["params"], patients=n, seed=s, workers=1,
                         progress=lambda d, t: progress(d, t, 0.5, 0.5))
        # the pictures are drawn here, not in the page's polling callback: a poll slower than the
        # polling interval would be superseded by the next one and never shown
        pictures = _figures(a) if b is None else _comparison(a, b, compare["label"])
        with _LOCK:
            _JOBS[job].update(done=True, progress=1.0, result=a, other=b, pictures=pictures)
    except Exception as err:  # shown in the page, never a traceback
        with _LOCK:
            _JOBS[job].update(done=True, error=str(err).splitlines()[0])


def _start(sc, p, n, s, compare=None) -> str:
    job = uuid.uuid4().hex
    with _LOCK:
        _JOBS[job] = {"progress": 0.0, "done": False, "scenario": sc, "params": p, "seed": s, "patients": n}
    threading.Thread(target=_run_job, args=(job, sc, p, n, s, compare), daemon=True).start()
    return job


def _figures(result) -> dict:
    """The cohort's summary rows and figures (PNG data URLs), drawn once when the run ends."""
    from seedsoil.analysis.headline import OUTPUTS, headline_outputs
    from seedsoil.interfaces.report import after_relapse_by_site, cohort_figures

    pat = result.patients
    figs = [(title, fig) for _, title, fig in cohort_figures(pat, result.funnel)]
    summary = [(OUTPUTS[k], f"{v:.3g}") for k, v in headline_outputs(pat).items()]
    summary += [(f"median OS after relapse with {r[0]} among the first sites (years, n = {r[1]})", f"{r[3]:.3g}")
                for r in after_relapse_by_site(pat).itertuples(index=False)]
    return {"summary": summary, "figures": [(alt, png_data_url(f)) for alt, f in figs]}


def _figure_children(pictures: dict):
    from dash import html

    table = html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in pictures["summary"]], id="summary-table")
    return [table, *(html.Img(src=src, alt=alt, className="figure", style={"maxWidth": "48%", "margin": "0.5%"})
                     for alt, src in pictures["figures"])]


def _comparison(a, b, label: str) -> dict:
    """DMFS of the two arms and the main outputs side by side, drawn once when the runs end."""
    from lifelines import KaplanMeierFitter
    from matplotlib.figure import Figure

    from seedsoil.analysis.headline import OUTPUTS, headline_outputs
    from seedsoil.analysis.survival import DAYS_PER_YEAR

    fig = Figure(figsize=(7, 4.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for name, r in (("as set", a), (label, b)):
        p = r.patients[r.patients["M"] != "M1"]
        KaplanMeierFitter(label=name).fit(p["dmfs_days"] / DAYS_PER_YEAR, p["dmfs_event"]).plot_survival_function(ax=ax)
    ax.set_xlabel("Time since diagnosis (years)")
    ax.set_ylabel("Distant-metastasis-free survival")
    ax.set_title("The same patients, one change (paired random streams)")
    ha, hb = headline_outputs(a.patients), headline_outputs(b.patients)
    rows = [(what, f"{ha[k]:.3g}", f"{hb[k]:.3g}", f"{hb[k] - ha[k]:+.3g}") for k, what in OUTPUTS.items()]
    return {"label": label, "rows": rows, "figure": png_data_url(fig)}


def _comparison_children(pictures: dict):
    from dash import html

    head = html.Tr([html.Th("output"), html.Th("as set"), html.Th(pictures["label"]), html.Th("difference")])
    table = html.Table([head, *(html.Tr([html.Td(c) for c in row]) for row in pictures["rows"])], id="compare-table")
    return [html.Img(src=pictures["figure"], alt="comparison", className="figure"), table]


def create_app():
    """The Dash application (not started)."""
    from dash import Dash, Input, Output, State, dcc, html, no_update

    reg = default_parameters()
    sc0, _ = load_scenario("default")
    app = Dash(__name__, title="seedsoil", suppress_callback_exceptions=True)

    def param_row(name):
        m = reg.meta(name)
        return html.Div([html.Label(f"{name} ({m.unit}; allowed {m.minimum:g} to {m.maximum:g})",
                                    htmlFor=_wid(name)),
                         dcc.Input(id=_wid(name), type="text", value=f"{m.value:g}",
                                   style={"width": "8em", "marginLeft": "0.5em"})], className="param")

    share_inputs = [html.Span([html.Label(s, htmlFor=f"share-{s}"),
                               dcc.Input(id=f"share-{s}", type="text", value=f"{getattr(sc0.cohort.subtype_shares, s):g}",
                                         style={"width": "4em", "margin": "0 1em 0 0.3em"})]) for s in SUBTYPES]
    cohort_tab = html.Div([
        html.Div([html.Label("Scenario ", htmlFor="scenario"),
                  dcc.Dropdown(id="scenario", options=list(builtin_names()), value="default", clearable=False,
                               style={"width": "12em", "display": "inline-block"}),
                  dcc.Upload(id="upload", children=html.A("or upload a scenario TOML file"),
                             style={"display": "inline-block", "marginLeft": "1em", "cursor": "pointer"}),
                  html.Span(id="upload-name", style={"marginLeft": "0.5em"})]),
        html.H4("Main parameters"), *[param_row(n) for n in APP_PARAMETERS],
        html.H4("Subtype mix (shares summing to 1)"), html.Div(share_inputs),
        html.Div([html.Label("Patients ", htmlFor="patients"),
                  dcc.Input(id="patients", type="text", value="2000", style={"width": "7em"}),
                  html.Label(" Seed ", htmlFor="seed"), dcc.Input(id="seed", type="text", value="20261121",
                                                                   style={"width": "8em"}),
                  html.Button("Run", id="run", n_clicks=0, style={"marginLeft": "1em"})], style={"marginTop": "1em"}),
    ])
    journey_tab = html.Div([html.P("The journey of one patient of the last cohort run (patient N is row N of its "
                                   "patients table)."),
                            dcc.Input(id="patient", type="text", value="0", style={"width": "6em"}),
                            html.Button("Show", id="show", n_clicks=0, style={"marginLeft": "1em"}),
                            html.Div(id="journey")])
    compare_tab = html.Div([html.P("Run the cohort as set beside the same patients with one change."),
                            html.Label("Parameter ", htmlFor="cmp-param"),
                            dcc.Dropdown(id="cmp-param", options=list(APP_PARAMETERS), value=APP_PARAMETERS[6],
                                         clearable=False, style={"width": "24em", "display": "inline-block"}),
                            html.Label(" times ", htmlFor="cmp-fold"),
                            dcc.Input(id="cmp-fold", type="text", value="2", style={"width": "4em"}),
                            html.Label(" or give everyone ", htmlFor="cmp-therapy"),
                            dcc.Dropdown(id="cmp-therapy", options=list(COMPARE_THERAPIES), value="none",
                                         clearable=False, style={"width": "12em", "display": "inline-block"}),
                            html.Button("Compare", id="compare", n_clicks=0, style={"marginLeft": "1em"})])
    app.layout = html.Div([
        html.H2("seedsoil: breast cancer metastasis, from one cell to the clinic"),
        html.H3("Cohort"), cohort_tab,
        html.Div(id="error", role="alert", style={"color": "#b00", "fontWeight": "bold", "margin": "0.8em 0"}),
        html.Progress(id="progress", value="0", max="1", style={"width": "40%"}),
        html.Span(id="status", style={"marginLeft": "1em"}),
        html.Div(id="figures"),
        html.H3("Follow one patient"), journey_tab,
        html.H3("Compare"), compare_tab, html.Div(id="comparison"),
        dcc.Store(id="job"), dcc.Store(id="last-job"),
        dcc.Interval(id="poll", interval=POLL_MS, disabled=True),
    ], style={"fontFamily": "sans-serif", "margin": "1em 2em"})

    inputs = [State(_wid(n), "value") for n in APP_PARAMETERS] + [State(f"share-{s}", "value") for s in SUBTYPES]

    def settings(args):
        scenario, upload, patients, seed, *rest = args
        values = dict(zip(APP_PARAMETERS, rest[:len(APP_PARAMETERS)]))
        shares = dict(zip(SUBTYPES, rest[len(APP_PARAMETERS):]))
        return build_scenario(scenario, upload, values, shares, patients, seed)

    @app.callback(Output("upload-name", "children"), Input("upload", "filename"))
    def _uploaded(name):
        return f"({name})" if name else ""

    @app.callback(Output("job", "data"), Output("error", "children"), Output("poll", "disabled"),
                  Input("run", "n_clicks"), Input("compare", "n_clicks"),
                  State("scenario", "value"), State("upload", "contents"), State("patients", "value"),
                  State("seed", "value"), State("cmp-param", "value"), State("cmp-fold", "value"),
                  State("cmp-therapy", "value"), *inputs, prevent_initial_call=True)
    def _run(n_run, n_cmp, scenario, upload, patients, seed, cmp_param, cmp_fold, cmp_therapy, *rest):
        from dash import ctx

        try:
            sc, p, n, s = settings((scenario, upload, patients, seed, *rest))
            compare = None
            if ctx.triggered_id == "compare":
                d = sc.model_dump(mode="python")
                if cmp_therapy != "none":
                    d["treatment"][cmp_therapy] = True
                    label = f"{cmp_therapy} for all"
                else:
                    d["parameters"][cmp_param] = p[cmp_param] * _number(cmp_fold, "times")
                    label = f"{cmp_param} x {cmp_fold}"
                sc2, p2 = scenario_from_dict(d, "<dashboard compare>")
                compare = {"scenario": sc2, "params": p2, "label": label}
        except (ValueError, ScenarioError, ParameterError) as err:
            return no_update, f"error: {' '.join(str(err).split())}", True
        job = _start(sc, p, n, s, compare)
        with _LOCK:
            _JOBS[job]["compare_label"] = compare["label"] if compare else None
        return job, "", False

    @app.callback(Output("progress", "value"), Output("status", "children"), Output("figures", "children"),
                  Output("comparison", "children"), Output("poll", "disabled", allow_duplicate=True),
                  Output("last-job", "data"), Output("error", "children", allow_duplicate=True),
                  Input("poll", "n_intervals"), State("job", "data"), prevent_initial_call=True)
    def _poll(_n, job):
        with _LOCK:
            state = dict(_JOBS.get(job or "", {}))
        if not state:
            return no_update, "", no_update, no_update, True, no_update, no_update
        if not state["done"]:
            return f"{state['progress']:.3f}", f"simulating {state['patients']:,} patients...", no_update, no_update, \
                False, no_update, no_update
        if "error" in state:
            return "0", "", no_update, no_update, True, no_update, f"error: {state['error']}"
        if state.get("other") is not None:
            return "1", "done: compared", no_update, _comparison_children(state["pictures"]), True, job, ""
        return "1", f"done: {state['patients']:,} patients", _figure_children(state["pictures"]), no_update, True, \
            job, ""

    @app.callback(Output("journey", "children"), Output("error", "children", allow_duplicate=True),
                  Input("show", "n_clicks"), State("patient", "value"), State("last-job", "data"),
                  prevent_initial_call=True)
    def _journey(_n, patient, job):
        from seedsoil.interfaces.journey import journey

        with _LOCK:
            state = dict(_JOBS.get(job or "", {}))
        if not state.get("done") or "result" not in state:
            return no_update, "error: run a cohort first (Cohort tab)"
        try:
            k = _number(patient, "--patient")
            if not float(k).is_integer() or not 0 <= k < state["patients"]:
                raise ValueError(f"--patient must be a whole number from 0 to {state['patients'] - 1}, not {patient}")
            j = journey(state["scenario"], state["params"], state["scenario"].engine, state["seed"], int(k))
        except ValueError as err:
            return no_update, f"error: {err}"
        return [html.Pre(j.story(), id="story"), html.Img(src=png_data_url(j.figure()), alt="journey", className="figure")], ""

    return app


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Start the dashboard (blocks); the web server's per-request log lines are kept quiet."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    create_app().run(host=host, port=port, debug=False)


__all__ = ["APP_PARAMETERS", "build_scenario", "create_app", "serve"]
