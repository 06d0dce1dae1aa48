"""Pandas dtypes of the result tables (docs/schema.md), derived from the one column specification."""

from __future__ import annotations

from seedsoil.interfaces.schema import pandas_dtypes

PATIENT_COLUMNS: dict[str, str] = pandas_dtypes("patients")
"""patients table: column -> pandas dtype, in file order (from interfaces/schema.py)."""
LESION_COLUMNS: dict[str, str] = pandas_dtypes("lesions")
"""lesions table: column -> pandas dtype, in file order (from interfaces/schema.py)."""
FUNNEL_COLUMNS: dict[str, str] = pandas_dtypes("funnel")
"""funnel table: column -> pandas dtype, in file order (from interfaces/schema.py)."""
