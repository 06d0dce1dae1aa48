"""Analysis (layer 5): survival endpoints, metastatic site patterns and the cascade funnel."""

from seedsoil.analysis.funnel import STAGES, funnel_by_organ, summarise_funnel
from seedsoil.analysis.sites import organ_order, site_shares_by_subtype, site_shares_overall
from seedsoil.analysis.survival import (
    DAYS_PER_YEAR,
    ENDPOINTS,
    distant_relapse_mask,
    endpoint_columns,
    km_by_group,
    logrank_by_group,
    median_by_group,
    median_os_after_distant_relapse,
)

__all__ = [
    "DAYS_PER_YEAR", "ENDPOINTS", "STAGES", "distant_relapse_mask", "endpoint_columns", "funnel_by_organ",
    "km_by_group", "logrank_by_group", "median_by_group", "median_os_after_distant_relapse", "organ_order",
    "site_shares_by_subtype", "site_shares_overall", "summarise_funnel",
]
