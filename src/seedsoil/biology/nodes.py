"""Axillary lymph node anatomy: where lymphatic units arrest and how likely they found a deposit."""

from __future__ import annotations

import numpy as np

from seedsoil.params import ParameterSet


def node_arrest_probabilities(p: ParameterSet) -> np.ndarray:
    """P(a lymphatic unit arrests in node i); the first ``nodes.sentinel_count`` nodes are the
    sentinel nodes that filter most afferent lymph, the rest share what passes them."""
    n, s = int(p["nodes.count"]), int(p["nodes.sentinel_count"])
    ps = p["nodes.sentinel_arrest_prob"]
    out = np.empty(n)
    out[:s] = ps / s
    if n > s:
        out[s:] = (1.0 - ps) / (n - s)
    else:
        out[:] = 1.0 / n
    return out


def deposit_probability(p: ParameterSet) -> np.ndarray:
    """P(an arrested lymphatic unit founds a deposit that escapes extinction), single vs cluster."""
    d = p["nodes.deposit_prob"]
    return np.minimum(np.array([d, d * p["colonisation.cluster_fold"]]), 1.0)
