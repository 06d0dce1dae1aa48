"""The published bone-remodelling parameter sets (Komarova 2003, Ayati 2010) as shipped in
``seedsoil/reference/bone_models.csv``, checked against BioModels BIOMD0000000148 and 403.

>>> bone_model_values("komarova2003")["k1"]
0.24
>>> sorted(BONE_MODELS)
['ayati2010', 'komarova2003']
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

BONE_MODELS = ("komarova2003", "ayati2010")


@lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, str], ...]:
    text = resources.files("seedsoil").joinpath("reference", "bone_models.csv").read_text()
    return tuple(csv.DictReader(text.splitlines()))


def bone_model_values(name: str) -> dict[str, float]:
    """Parameter name -> value of one published set (``komarova2003`` or ``ayati2010``)."""
    if name not in BONE_MODELS:
        raise ValueError(f"unknown bone model {name!r}: allowed are {', '.join(BONE_MODELS)}")
    return {r["parameter"]: float(r["value"]) for r in _rows() if r["model"] == name}


def bone_model_sources(name: str) -> dict[str, str]:
    """Parameter name -> cited source of one published set."""
    bone_model_values(name)
    return {r["parameter"]: r["source"] for r in _rows() if r["model"] == name}
