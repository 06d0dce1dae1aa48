"""Parameters as data (layer 1): the shipped defaults and the registry that validates them."""

from seedsoil.params.registry import Parameter, ParameterError, ParameterSet, default_parameters

__all__ = ["Parameter", "ParameterError", "ParameterSet", "default_parameters"]
