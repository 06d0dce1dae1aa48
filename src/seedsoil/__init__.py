"""seedsoil: breast cancer metastasis from one cell leaving a duct to a patient's survival.

>>> import seedsoil
>>> r = seedsoil.simulate("default", patients=20, seed=1)
>>> len(r.patients)
20
"""

from seedsoil._version import __version__
from seedsoil.interfaces.api import calibrate, journey, run, sensitivity, simulate, trial, twins
from seedsoil.params import default_parameters
from seedsoil.scenario import load_scenario

__all__ = ["__version__", "default_parameters", "load_scenario", "calibrate", "journey", "run", "sensitivity", "simulate", "trial", "twins"]
