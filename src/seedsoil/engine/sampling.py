"""Sampling by inversion of given uniforms, so a patient's draw depends on her own uniform only
(whatever else is simulated beside her)."""

from __future__ import annotations

import numpy as np

INVERSION_MAX_MEAN = 30.0
"""Poisson means up to this are inverted by summing the probabilities (fast); larger ones by
scipy's quantile function."""


def poisson_from_uniform(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Poisson(mean) counts by inversion of uniforms ``u`` (smallest k with F(k) >= u).

    >>> poisson_from_uniform(np.array([0.1, 0.5, 0.99]), np.array([0.0, 1.0, 1.0])).tolist()
    [0, 1, 4]
    """
    u, mean = np.asarray(u, dtype=float), np.asarray(mean, dtype=float)
    k = np.zeros(u.shape, dtype=np.int64)
    small = mean <= INVERSION_MAX_MEAN
    if small.any():
        uu, mu = u[small], mean[small]
        p = np.exp(-mu)
        cdf = p.copy()
        kk = np.zeros(uu.shape, dtype=np.int64)
        todo = np.flatnonzero(uu > cdf)
        step = 0
        while todo.size:
            step += 1
            p[todo] *= mu[todo] / step
            cdf[todo] += p[todo]
            kk[todo] = step
            todo = todo[(uu[todo] > cdf[todo]) & (p[todo] > 0)]
        k[small] = kk
    if (~small).any():
        from scipy import stats  # only for large means (rare); scipy.stats takes a while to import

        k[~small] = stats.poisson.ppf(u[~small], mean[~small]).astype(np.int64)
    return k
