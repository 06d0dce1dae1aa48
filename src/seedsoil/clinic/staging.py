"""AJCC 8th edition anatomic staging of the primary (pT), the axilla (pN) and the stage group.

>>> t_category(15.0, t1_max=20, t2_max=50), t_category(0.8, t1_max=20, t2_max=50)
('T1c', 'T1mi')
>>> n_category([3.0, 1.0], itc_max=0.2, micro_max=2.0, n1_max=3, n2_max=9)
('pN1a', 2)
>>> stage_group('T1c', 'pN0(i+)', 'M0'), stage_group('T2', 'pN1a', 'M0'), stage_group('T1c', 'pN0', 'M1')
('IA', 'IIB', 'IV')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

T1_SUBDIVISIONS = ((1.0, "T1mi"), (5.0, "T1a"), (10.0, "T1b"))  # AJCC 8th: <=1, <=5, <=10 mm
T_CATEGORIES = ("T1mi", "T1a", "T1b", "T1c", "T2", "T3")
N_CATEGORIES = ("pN0", "pN0(i+)", "pN1mi", "pN1a", "pN2a", "pN3a")
M_CATEGORIES = ("M0", "M1")


def t_codes(diameter_mm, *, t1_max: float, t2_max: float) -> np.ndarray:
    """pT (index into :data:`T_CATEGORIES`) from each invasive tumour's greatest diameter (mm);
    T4 (chest wall/skin) is not modelled."""
    d = np.asarray(diameter_mm, dtype=float)
    limits = [lim for lim, _ in T1_SUBDIVISIONS] + [t1_max, t2_max]
    return np.searchsorted(np.array(limits), d, side="left")


def t_category(diameter_mm: float, *, t1_max: float, t2_max: float) -> str:
    """pT of one tumour (see :func:`t_codes`)."""
    return T_CATEGORIES[int(t_codes([diameter_mm], t1_max=t1_max, t2_max=t2_max)[0])]


def n_codes(node_max_mm, *, itc_max: float, micro_max: float, n1_max: int, n2_max: int) -> tuple[np.ndarray, np.ndarray]:
    """pN (index into :data:`N_CATEGORIES`) and positive node counts, from the largest deposit
    (mm) in each examined node, shape (patients, nodes), 0 = no deposit or not examined. Nodes
    with micro- or macrometastases count as positive; ITCs do not."""
    s = np.atleast_2d(np.asarray(node_max_mm, dtype=float))
    positive = (s > itc_max).sum(axis=1)
    macro = (s > micro_max).any(axis=1)
    any_dep = (s > 0).any(axis=1)
    code = np.where(macro, np.where(positive <= n1_max, 3, np.where(positive <= n2_max, 4, 5)),
                    np.where(positive > 0, 2, np.where(any_dep, 1, 0)))
    return code, positive


def n_category(node_max_mm: Sequence[float], *, itc_max: float, micro_max: float, n1_max: int, n2_max: int) -> tuple[str, int]:
    """pN and the number of positive nodes of one axilla (see :func:`n_codes`)."""
    code, positive = n_codes([list(node_max_mm) or [0.0]], itc_max=itc_max, micro_max=micro_max, n1_max=n1_max,
                             n2_max=n2_max)
    return N_CATEGORIES[int(code[0])], int(positive[0])


_N_GROUP = {"pN0": 0, "pN0(i+)": 0, "pN1mi": "mi", "pN1a": 1, "pN2a": 2, "pN3a": 3}


def stage_group(pt: str, pn: str, m: str) -> str:
    """AJCC 8th anatomic stage group."""
    if m == "M1":
        return "IV"
    n = _N_GROUP[pn]
    t1 = pt.startswith("T1")
    if n == 3:
        return "IIIC"
    if n == 2:
        return "IIIA"
    if pt == "T3":
        return "IIB" if n == 0 else "IIIA"
    if pt == "T2":
        return "IIA" if n == 0 else "IIB"
    if t1:
        return {0: "IA", "mi": "IB", 1: "IIA"}[n]
    raise ValueError(f"unknown T category {pt!r}")


STAGE_GROUPS = ("IA", "IB", "IIA", "IIB", "IIIA", "IIIB", "IIIC", "IV")
STAGE_TABLE = np.array([[[STAGE_GROUPS.index(stage_group(t, n, m)) for m in M_CATEGORIES] for n in N_CATEGORIES]
                        for t in T_CATEGORIES])
"""Stage group (index into :data:`STAGE_GROUPS`) by (pT code, pN code, M code), from :func:`stage_group`."""
