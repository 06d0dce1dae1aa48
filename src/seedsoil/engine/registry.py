"""The one registry of engines: the scenario model, the CLI and the API all read it."""

from __future__ import annotations

from seedsoil.engine.contract import Engine
from seedsoil.engine.fast import FastEngine
from seedsoil.engine.reference import ReferenceEngine

ENGINES: dict[str, type[Engine]] = {cls.name: cls for cls in (FastEngine, ReferenceEngine)}
DEFAULT_ENGINE = FastEngine.name


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def get_engine(name: str) -> type[Engine]:
    """The engine class registered under ``name``."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}") from None
