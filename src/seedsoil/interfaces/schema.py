"""The result tables' columns, written once: Arrow schemas, pandas dtypes and docs/schema.md come from here.

Regenerate the document after editing a column: ``python -m seedsoil.interfaces.schema > docs/schema.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

KINDS: tuple[str, ...] = ("int64", "float64", "bool", "string")
"""Allowed ``Column.kind`` values."""

_ARROW_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
_PANDAS_DTYPES = {"int64": "int64", "float64": "float64", "bool": "bool", "string": "object"}
_DOC_DTYPES = {"int64": "int64", "float64": "float64", "bool": "bool", "string": "str"}


@dataclass(frozen=True)
class Column:
    """One column of a result table; ``unit`` is "" for counts, labels and flags; ``nullable`` lets NaN in as null."""

    name: str
    kind: str
    nullable: bool
    unit: str
    description: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind {self.kind!r} is not one of {KINDS}")


_DAYS_FROM_DX = "event or censoring time from diagnosis"
_EVENT = "True = event, False = censored at follow-up end"

PATIENT_COLUMNS_SPEC: tuple[Column, ...] = (
    Column("patient_id", "int64", False, "", "0..N-1, the index of the patient's random stream"),
    Column("subtype", "string", False, "", "luminal_a, luminal_b, her2, triple_negative"),
    Column("histology", "string", False, "", "idc, ilc"),
    Column("er", "bool", False, "", "receptor status"),
    Column("pr", "bool", False, "", "receptor status"),
    Column("her2", "bool", False, "", "receptor status"),
    Column("age_at_diagnosis", "float64", True, "years", "age at diagnosis"),
    Column("tumor_size_mm", "float64", True, "mm", "primary diameter at diagnosis"),
    Column("grade", "int64", False, "", "1..3"),
    Column("menopausal", "string", False, "", "pre, post (age at diagnosis against the age at natural menopause)"),
    Column("tmem_score", "float64", True, "per 20 high-power fields", "TMEM doorway count (Robinson 2009 scale)"),
    Column("positive_nodes", "int64", False, "", "sampled nodes with a deposit > ITC size (micro or macro)"),
    Column("nodes_examined", "int64", False, "", "nodes removed at surgery"),
    Column("pT", "string", False, "", "T1mi, T1a, T1b, T1c, T2, T3"),
    Column("pN", "string", False, "", "pN0, pN0(i+), pN1mi, pN1a, pN2a, pN3a"),
    Column("M", "string", False, "", "M0 or M1 (metastasis detectable at diagnosis)"),
    Column("stage", "string", False, "", "IA, IB, IIA, IIB, IIIA, IIIC, IV"),
    Column("surgery", "string", False, "", "bcs (breast-conserving) or mastectomy"),
    Column("endocrine", "bool", False, "", "adjuvant endocrine therapy (ER+ or PR+ only)"),
    Column("endocrine_years", "float64", True, "years", "planned years of adjuvant endocrine therapy (0 if none)"),
    Column("chemotherapy", "bool", False, "", "adjuvant anthracycline/taxane chemotherapy"),
    Column("anti_her2", "bool", False, "", "adjuvant anti-HER2 antibody (trastuzumab; HER2+ only)"),
    Column("her2_tki", "bool", False, "", "adjuvant HER2 tyrosine-kinase inhibitor after the antibody (HER2+ only)"),
    Column("bone_agent", "bool", False, "", "adjuvant bisphosphonate or denosumab (acts after menopause only)"),
    Column("radiotherapy", "bool", False, "", "adjuvant breast or chest-wall radiotherapy"),
    Column("dfs_days", "float64", True, "days", _DAYS_FROM_DX),
    Column("dmfs_days", "float64", True, "days", _DAYS_FROM_DX),
    Column("os_days", "float64", True, "days", _DAYS_FROM_DX),
    Column("dfs_event", "bool", False, "", _EVENT),
    Column("dmfs_event", "bool", False, "", _EVENT),
    Column("os_event", "bool", False, "", _EVENT),
    Column("death_cause", "string", False, "",
           '"" (alive), "organ_failure:<organ>" (the organ whose dysfunction weighed most), "other_causes"'),
    Column("first_metastasis_sites", "string", False, "",
           'organs detected within 90 days of the first distant detection, ";"-joined, sorted'),
    Column("metastasis_sites", "string", False, "",
           'all organs with a detected distant metastasis during follow-up, ";"-joined, sorted'),
    Column("local_recurrence_day", "float64", True, "days",
           "in-breast or chest-wall recurrence time from diagnosis, NaN if none within follow-up"),
    Column("regional_recurrence_day", "float64", True, "days", "regional recurrence time from diagnosis, NaN if none"),
    Column("distant_metastasis_day", "float64", True, "days",
           "first distant metastasis detected, days from diagnosis (0: de novo stage IV), NaN if none"),
    Column("metastatic_lines", "int64", False, "", "lines of metastatic systemic therapy started"),
    Column("n_colonies", "int64", False, "",
           "distant colonies seeded by the primary or axillary deposits that survived extinction (detected or not)"),
    Column("n_secondary_colonies", "int64", False, "",
           "distant colonies seeded by metastases (through the blood, into the pleura, to distant nodes), "
           "while still silent or after the first one was found (not in the funnel)"),
    Column("ctc_7_5ml", "int64", False, "",
           "circulating tumour units counted in a 7.5 mL blood draw at diagnosis "
           "(CellSearch-style; a cluster counts once)"),
    Column("dtc_bone_marrow", "int64", False, "",
           "disseminated tumour cells counted in a standard bone-marrow aspirate at diagnosis "
           "(marrow.aspirate_cells mononuclear cells after density separation, which keeps the tumour cells: "
           "marrow.mononuclear_share), from the solitary dormant cells in bone at surgery"),
    Column("ctc_at_relapse_7_5ml", "float64", True, "",
           "circulating tumour units counted in a 7.5 mL draw on the day the first distant metastasis is found, "
           "before the first line (at diagnosis for de novo stage IV; CellSearch baseline, >= 5 is 'high'); "
           "NaN without a distant relapse in follow-up"),
    Column("metastatic_bone_agent", "string", False, "",
           '"denosumab" or "zoledronic_acid" when given for bone metastases found at first relapse '
           '(the era\'s choice or treatment.metastatic_bone_agent), "none" otherwise'),
    Column("skeletal_event_day", "float64", True, "days",
           "first skeletal-related event (local bone mass of a bone lesion below a threshold of the bone "
           "model, or a fracture at the constant hazard of each found bone lesion, "
           "bone.sre.lesion_hazard_per_day), days from diagnosis, NaN if none within follow-up"),
    Column("skeletal_event", "string", False, "",
           '"radiotherapy_to_bone", "pathological_fracture", "spinal_cord_compression" (the first one) or ""'),
    Column("symptoms", "string", False, "",
           'what her detected metastases caused (each organ\'s symptoms) and her first skeletal-related '
           'event, "; "-joined, sorted; "" if none'),
)
"""patients.parquet: one row per patient."""

LESION_COLUMNS_SPEC: tuple[Column, ...] = (
    Column("patient_id", "int64", False, "", "the patient's patient_id in the patients table"),
    Column("organ", "string", False, "", "organ the metastasis grew in"),
    Column("detection_day", "float64", True, "days", "detection time from diagnosis"),
    Column("size_mm", "float64", True, "mm", "diameter at detection"),
    Column("clone", "string", False, "", "name of the clone that founded the colony"),
    Column("founded_day", "float64", True, "days", "colony founding time from diagnosis (negative = before diagnosis)"),
    Column("origin", "string", False, "", '"direct", "dormant" or "metastasis" (seeded by a metastasis, while silent or after it was found)'),
    Column("symptoms", "string", False, "", 'what a metastasis in this organ causes, "; "-joined ("" for silent sites)'),
)
"""lesions.parquet: one row per detected distant metastasis."""

CTC_DRAW_COLUMNS_SPEC: tuple[Column, ...] = (
    Column("patient_id", "int64", False, "", "the patient's patient_id in the patients table"),
    Column("day", "float64", True, "days", "day of the blood draw from diagnosis (0: before surgery)"),
    Column("ctc_7_5ml", "int64", False, "",
           "circulating tumour units counted in a 7.5 mL draw (Poisson around expected_ctc)"),
    Column("expected_ctc", "float64", True, "",
           "expected units in the draw: the steady-state circulating load from the primary (day 0) or what "
           "is left of it, the undissected nodal deposits and the distant metastases on that day"),
)

FUNNEL_COLUMNS_SPEC: tuple[Column, ...] = (
    Column("stage", "string", False, "", "cascade stage (order below)"),
    Column("organ", "string", False, "",
           '"all" for whole-body stages: shed, entered_lymph, entered_blood, survived_circulation; '
           'an organ name from arrest on; "axillary_nodes" for lymphatic units arrested in, '
           "and deposits founded in, the axilla"),
    Column("count", "int64", False, "", "units that reached the stage at the site, summed over the cohort"),
)
"""funnel.parquet: cascade counts summed over the cohort."""

TABLES: dict[str, tuple[Column, ...]] = {
    "patients": PATIENT_COLUMNS_SPEC,
    "lesions": LESION_COLUMNS_SPEC,
    "ctc_draws": CTC_DRAW_COLUMNS_SPEC,
    "funnel": FUNNEL_COLUMNS_SPEC,
}
"""Table name -> its columns in file order."""


def arrow_schema(table_name: str) -> pa.Schema:
    """The Arrow schema of ``table_name`` ('patients', 'lesions', 'funnel'); nullable columns store NaN as null."""
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind], nullable=c.nullable) for c in TABLES[table_name]])


def pandas_dtypes(table_name: str) -> dict[str, str]:
    """Column -> pandas dtype of ``table_name`` in file order; strings are "object"."""
    return {c.name: _PANDAS_DTYPES[c.kind] for c in TABLES[table_name]}


# ----- docs/schema.md ---------------------------------------------------------------------------

_TITLE = "# Result schema (contract between engine/clinic and analysis/interfaces)"
_GENERATED = ("<!-- Generated from src/seedsoil/interfaces/schema.py by "
              "`python -m seedsoil.interfaces.schema > docs/schema.md`; edit that file, not this one. -->")
_INTRO = "All times are days. `t = 0` for patient-facing columns is the day of diagnosis (= surgery)."
_HEADINGS = {
    "patients": "## patients (one row per patient) — `patients.parquet`",
    "lesions": "## lesions (one row per detected distant metastasis) — `lesions.parquet`",
    "ctc_draws": "## ctc_draws (one row per blood draw of a living patient in follow-up) — `ctc_draws.parquet`",
    "funnel": "## funnel (cascade counts summed over the cohort) — `funnel.parquet`",
}
_NOTES = {
    "patients": ("`seedsoil twins` writes the same columns, preceded by `row_id` (int64, the 0-based position of "
                 "the input row) and `replicate` (int64, 0..R-1); its `patient_id` numbers the simulated candidates "
                 "(not a run's patient streams), and its lesions.parquet starts with the same two columns."),
    "ctc_draws": ("Draws are taken on the days of the scenario's `[measurements] ctc_draw_days` (or `seedsoil run "
                  "--ctc-draw-days D1,D2,...`); the table is empty without them. A patient dead or past her "
                  "follow-up on a draw day has no row for it. CellSearch's threshold (5 or more CTCs in 7.5 mL; "
                  "Cristofanilli et al. 2004 N Engl J Med 351:781) can be applied to `ctc_7_5ml` directly. The "
                  "count is Poisson around the expected load; the spread between patients comes from their "
                  "tumour burdens."),
    "funnel": ("Counts are units (a cluster counts once).\n"
               "Stages in cascade order: shed, entered_lymph, entered_blood, survived_circulation, arrested, "
               "extravasated, dormant, micrometastases, colonies, detected."),
}


def _column_table(columns: tuple[Column, ...]) -> str:
    """Markdown table, one row per run of neighbouring columns that share dtype, unit and meaning."""
    def same(a: Column, b: Column) -> bool:
        return (a.kind, a.nullable, a.unit, a.description) == (b.kind, b.nullable, b.unit, b.description)

    rows: list[tuple[list[str], Column]] = []
    for c in columns:
        if rows and same(rows[-1][1], c):
            rows[-1][0].append(c.name)
        else:
            rows.append(([c.name], c))
    lines = ["| column | dtype | meaning [unit] |", "|---|---|---|"]
    for names, c in rows:
        meaning = f"{c.description} [{c.unit}]" if c.unit else c.description
        lines.append(f"| {', '.join(names)} | {_DOC_DTYPES[c.kind]} | {meaning} |")
    return "\n".join(lines)


def _nullability(columns: tuple[Column, ...]) -> str:
    nullable = [c.name for c in columns if c.nullable]
    if not nullable:
        return "No column may be missing."
    return f"May be missing (NaN, stored as null): {', '.join(nullable)}. Every other column is complete."


def schema_markdown() -> str:
    """The whole of docs/schema.md, column tables rendered from the spec above."""
    parts = [_TITLE, _GENERATED, _INTRO]
    for name, columns in TABLES.items():
        section = [_HEADINGS[name]]
        if name != "patients":  # one-line column list first: tests/integration/test_schema.py reads it
            section.append("Columns: " + ", ".join(f"{c.name} {_DOC_DTYPES[c.kind]}" for c in columns) + ".")
        section += [_column_table(columns), _nullability(columns)]
        if name in _NOTES:
            section.append(_NOTES[name])
        parts.append("\n\n".join(section))
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(schema_markdown(), end="")
