"""Engines (layer 3): sample stochastic patient histories from the biology.

Both engines take the same (scenario, parameters) and expose ``simulate(patient_id, seed)``
returning a :class:`~seedsoil.engine.history.PatientHistory`.
"""

from seedsoil.engine.fast import FastEngine
from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES, PatientHistory
from seedsoil.engine.reference import ReferenceEngine

ENGINES: dict[str, type] = {"fast": FastEngine, "reference": ReferenceEngine}


def get_engine(name: str):
    """The engine class registered under ``name``."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(sorted(ENGINES))}") from None


__all__ = ["ENGINES", "FUNNEL_SITES", "FUNNEL_STAGES", "FastEngine", "PatientHistory", "ReferenceEngine", "get_engine"]
