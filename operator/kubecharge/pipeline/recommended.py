"""Request recommendations for a report: the window, each workload container's use from its cluster's source, the
team its workload is charged to, and the saving at the report's prices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from kubecharge.domain.charges import Chargeback
from kubecharge.domain.mappings import UNALLOCATED
from kubecharge.domain.periods import Period
from kubecharge.domain.recommendations import (
    HISTOGRAM_LAYOUT,
    ContainerUse,
    DayStore,
    DayUse,
    Recommendation,
    RecommendationSettings,
    recommend,
)
from kubecharge.domain.reports import Pricing
from kubecharge.store.repository import Repository


class UseSource(Protocol):
    """What recommendations ask of a cluster: its containers' use over a window (its Prometheus, with the days the
    ledger kept; or the kept days alone, where nothing may be asked)."""

    def container_use(self, start: datetime, end: datetime, percentile: float,
                      days: DayStore | None = None) -> list[ContainerUse]: ...  # fmt: skip


def window(settings: RecommendationSettings, period: Period, until: datetime) -> tuple[datetime, datetime]:
    """The `window_days` complete UTC days before the report's as-of or its end, whichever is earlier."""
    end = min(until, period.end).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=settings.window_days), end


def workload_teams(chargeback: Chargeback) -> dict[tuple[str, str, str, str], str]:
    """(cluster, namespace, workload kind, workload) → the team charged most for it in the period (a workload
    whose pods carry two teams' labels goes to the larger)."""
    costs: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for line in chargeback.lines:
        cluster = line.cluster or chargeback.cluster
        for workload in line.workloads:
            key = (cluster, line.namespace, workload.workload_kind, workload.workload)
            teams = costs.setdefault(key, {})
            teams[line.team] = teams.get(line.team, 0.0) + workload.total_allocated
    return {key: min(teams, key=lambda team: (-teams[team], team)) for key, teams in costs.items()}


class LedgerDays:
    """A cluster's days of container use, kept in the ledger (`DayStore` over the repository)."""

    def __init__(self, repository: Repository, cluster: str) -> None:
        self.repository, self.cluster = repository, cluster

    def get(self, queries: str, day: datetime) -> DayUse | None:
        found = self.repository.container_day(self.cluster, queries, HISTOGRAM_LAYOUT, day)
        return None if found is None else DayUse.decode(found)

    def put(self, queries: str, day: datetime, found: DayUse) -> None:
        self.repository.keep_container_day(self.cluster, queries, HISTOGRAM_LAYOUT, day, found.encode())


def recommendations(chargeback: Chargeback, settings: RecommendationSettings, pricing: Pricing,
                    sources: Mapping[str, UseSource], start: datetime, end: datetime,
                    repository: Repository | None = None) -> tuple[Recommendation, ...]:  # fmt: skip
    """Every workload container's recommendation over [start, end), priced at the report's per-resource prices,
    by team, namespace, workload and container."""
    teams = workload_teams(chargeback)
    namespaces = {(line.cluster or chargeback.cluster, line.namespace): line.team for line in chargeback.lines}
    cpu, memory = pricing.cpu_core_hour, pricing.memory_gib_hour
    found = []
    for cluster, source in sources.items():
        days = LedgerDays(repository, cluster) if repository is not None else None
        for use in source.container_use(start, end, settings.cpu_percentile, days):
            team = teams.get((cluster, use.namespace, use.workload_kind, use.workload)) or namespaces.get(
                (cluster, use.namespace), UNALLOCATED)  # fmt: skip
            found.append(recommend(use, team, settings, cpu, memory, chargeback.currency, cluster))
    return tuple(sorted(found, key=lambda r: (r.team, r.cluster, r.namespace, r.workload_kind, r.workload,
                                              r.container)))  # fmt: skip
