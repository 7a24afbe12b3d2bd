"""What the portal shows of a priced period, rendered by the same functions as the report's files and documents:
a page, an API answer and a download cannot say other than `chargeback.csv` does."""

from __future__ import annotations

from kubecharge.domain.units import NUMBER_FILTERS
from kubecharge.render.charts import nice_ticks
from kubecharge.render.data_files import (
    chargeback_csv,
    chargeback_json,
    completeness_record,
    daily_csv,
    workloads_csv,
)
from kubecharge.render.documents import context
from kubecharge.render.focus import focus_csv

__all__ = [
    "NUMBER_FILTERS",
    "chargeback_csv",
    "chargeback_json",
    "completeness_record",
    "context",
    "daily_csv",
    "focus_csv",
    "nice_ticks",
    "workloads_csv",
]
