"""Analysis (layer 5): survival endpoints, metastatic site patterns, the cascade funnel and therapy effects."""

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
from seedsoil.analysis.therapy_effects import (
    cumulative_incidence,
    event_times,
    exposure,
    first_recurrence_day,
    median_months_by_receptor_group,
    nodal_cox,
    paired_rate_ratio,
    rate_ratio,
)

__all__ = [
    "DAYS_PER_YEAR", "ENDPOINTS", "STAGES", "cumulative_incidence", "distant_relapse_mask", "endpoint_columns",
    "event_times", "exposure", "first_recurrence_day", "funnel_by_organ", "km_by_group", "logrank_by_group",
    "median_by_group", "median_months_by_receptor_group", "median_os_after_distant_relapse", "nodal_cox",
    "organ_order", "paired_rate_ratio", "rate_ratio", "site_shares_by_subtype", "site_shares_overall",
    "summarise_funnel",
]
