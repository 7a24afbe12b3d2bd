"""`/api/v1/costs`: the rows and columns of `chargeback.csv` (by namespace), `chargeback-workloads.csv` (by
workload), or the namespace rows added up per team and cluster — rendered by the same functions as the files, from
the chargeback the viewer may see, so the API and the downloads cannot disagree."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from kubecharge.domain.charges import Chargeback
from kubecharge.pipeline import views

AGGREGATES = ("team", "namespace", "workload")
_TEXT_COLUMNS = {"period_start", "period_end", "team", "namespace", "workload_kind", "workload", "currency",
                 "cluster", "cost_center"}  # fmt: skip
_TEAM_DROPS = {"namespace"}


def cost_rows(chargeback: Chargeback, aggregate: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): numbers as JSON numbers, the rest as the CSV writes it."""
    text = views.workloads_csv(chargeback) if aggregate == "workload" else views.chargeback_csv(chargeback)
    reader = csv.DictReader(io.StringIO(text.decode()))
    columns = list(reader.fieldnames or [])
    rows = [{key: value if key in _TEXT_COLUMNS else float(value) for key, value in row.items()} for row in reader]
    if aggregate != "team":
        return columns, rows
    columns = [column for column in columns if column not in _TEAM_DROPS]
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((str(row["team"]), str(row["cluster"])), []).append(row)
    teams = []
    for (_team, _cluster), parts in sorted(grouped.items()):
        first = parts[0]
        teams.append({column: first[column] if column in _TEXT_COLUMNS
                      else round(math.fsum(part[column] for part in parts), 9) for column in columns})  # fmt: skip
    return columns, teams
