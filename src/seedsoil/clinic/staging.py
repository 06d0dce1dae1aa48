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

T1_SUBDIVISIONS = ((1.0, "T1mi"), (5.0, "T1a"), (10.0, "T1b"))  # AJCC 8th: <=1, <=5, <=10 mm


def t_category(diameter_mm: float, *, t1_max: float, t2_max: float) -> str:
    """pT from the invasive tumour's greatest diameter (T4, chest wall/skin, is not modelled)."""
    if diameter_mm <= t1_max:
        for limit, name in T1_SUBDIVISIONS:
            if diameter_mm <= limit:
                return name
        return "T1c"
    return "T2" if diameter_mm <= t2_max else "T3"


def n_category(node_max_mm: Sequence[float], *, itc_max: float, micro_max: float, n1_max: int, n2_max: int) -> tuple[str, int]:
    """pN and the number of positive nodes, from the largest deposit (mm) in each examined node
    (0 = no deposit). Nodes with micro- or macrometastases count as positive; ITCs do not."""
    sizes = [s for s in node_max_mm if s > 0]
    positive = sum(1 for s in sizes if s > itc_max)
    macro = any(s > micro_max for s in sizes)
    if macro:
        name = "pN1a" if positive <= n1_max else ("pN2a" if positive <= n2_max else "pN3a")
    elif positive:
        name = "pN1mi"
    elif sizes:
        name = "pN0(i+)"
    else:
        name = "pN0"
    return name, positive


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
