"""Engines (layer 3): sample stochastic histories of blocks of patients from the biology.

Every engine implements :class:`~seedsoil.engine.contract.Engine` and is listed in
:mod:`seedsoil.engine.registry`."""

from seedsoil.engine.contract import Capabilities, Engine
from seedsoil.engine.fast import FastEngine
from seedsoil.engine.history import FUNNEL_SITES, FUNNEL_STAGES, CohortHistory
from seedsoil.engine.reference import ReferenceEngine
from seedsoil.engine.registry import DEFAULT_ENGINE, ENGINES, engine_names, get_engine

__all__ = ["Capabilities", "CohortHistory", "DEFAULT_ENGINE", "ENGINES", "Engine", "FUNNEL_SITES", "FUNNEL_STAGES",
           "FastEngine", "ReferenceEngine", "engine_names", "get_engine"]
