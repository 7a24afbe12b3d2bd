"""Which clusters a report covers, and how each one's series are selected.

A Prometheus scraping one cluster usually has no cluster label: its series are the cluster named by
`KUBECHARGE_CLUSTER_NAME` (or `--cluster`). A Thanos, Mimir or VictoriaMetrics holding many clusters tells them
apart by a label (`KUBECHARGE_CLUSTER_LABEL`, default `cluster`); each cluster is then queried on its own, with
that label as a matcher, so same-named namespaces (and the same node IPs) of two clusters never meet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kubecharge.collect import promql
from kubecharge.collect.prometheus import PrometheusSource, QueryObserver
from kubecharge.domain.collected import UsageNote
from kubecharge.domain.units import SECONDS_PER_HOUR
from kubecharge.errors import InputError
from kubecharge.settings import QuerySettings, Settings


@dataclass(frozen=True)
class ClusterScope:
    name: str
    labels: dict[str, str] = field(default_factory=dict)  # matchers on every series; none when unlabelled


def resolve_clusters(
    discovered: Sequence[str], requested: Sequence[str], *, all_clusters: bool, own: str, label: str
) -> list[ClusterScope]:
    """The clusters to report on. `discovered`: the values of the cluster label on the scrape-health series."""
    wanted = list(dict.fromkeys(requested))
    if not discovered:
        if len(wanted) > 1:
            raise InputError(
                f"the metrics source has no `{label}` label, so it holds one cluster: ask for one cluster, or set "
                "KUBECHARGE_CLUSTER_LABEL to the label that names clusters there"
            )
        return [ClusterScope(wanted[0] if wanted else own)]
    known = sorted(set(discovered))
    if all_clusters:
        wanted = known
    elif not wanted:
        wanted = [own] if own in known or len(known) > 1 else known
    missing = [name for name in wanted if name not in known]
    if missing:
        raise InputError(
            f"no data for cluster {', '.join(missing)} in the period; the `{label}` label there has: "
            f"{', '.join(known)} (choose with --cluster, or --all-clusters)"
        )
    return [ClusterScope(name, {label: name}) for name in wanted]


def with_state_metrics_interval(
    probe: PrometheusSource, queries: QuerySettings, start: datetime, end: datetime
) -> QuerySettings:
    """The query settings with kube-state-metrics' scrape interval as its `up` series show it (the densest hour,
    so an outage does not stretch it): counting a pod's running time in steps shorter than the interval would
    miss it. Set explicitly, the setting wins."""
    if queries.state_metrics_interval_seconds is not None:
        return queries
    densest = probe.largest_value("state_metrics_interval", promql.densest_state_metrics_scrapes(queries), start, end)
    if not densest:
        return queries
    interval = min(600, max(5, math.ceil(SECONDS_PER_HOUR / densest)))
    return queries.model_copy(update={"state_metrics_interval_seconds": interval})


def with_gpu_exporter(
    probe: PrometheusSource, queries: QuerySettings, start: datetime, end: datetime
) -> tuple[QuerySettings, UsageNote | None]:
    """dcgm-exporter is found by its metric, not trusted to the configured job: the GPU operator names its job
    `nvidia-dcgm-exporter`, dcgm-exporter's own chart `dcgm-exporter`. Where the configured job has no utilisation
    series but another job has, that job is used (and said); where none has, GPU utilisation is unknown — never 0."""
    metric = queries.gpu_utilization_metric
    configured = queries.gpu_job_labels.get("job")
    jobs = probe.label_values("job", promql.selector(metric, labels=queries.series_labels), start, end, "gpu_jobs")
    setting = "KUBECHARGE_QUERY_GPU_JOB_LABELS"
    if not jobs:
        return queries, UsageNote("gpu", False, f"GPU utilisation is unknown: no {metric} series in the period (is "
                                  f"dcgm-exporter scraped? its job is set by {setting})")  # fmt: skip
    if configured is None or configured in jobs:
        return queries, None
    found = ", ".join(repr(job) for job in jobs)
    note = UsageNote("gpu", True, f"GPU utilisation ({metric}) is exported under job {found}, not {configured!r} "
                     f"as {setting} says: read from there; set {setting} to say so")  # fmt: skip
    labels = {key: value for key, value in queries.gpu_job_labels.items() if key != "job"}
    return queries.model_copy(update={"gpu_job_labels": labels, "gpu_jobs": tuple(jobs)}), note


def cluster_sources(
    url: str,
    settings: Settings,
    start: datetime,
    end: datetime,
    requested: Sequence[str] = (),
    *,
    all_clusters: bool = False,
    observer: QueryObserver | None = None,
) -> dict[str, PrometheusSource]:
    """One source per cluster reported on, each selecting its cluster's series (none for an unlabelled one), its
    queries built for its own kube-state-metrics scrape interval."""
    probe = PrometheusSource.from_settings(url, promql.build(settings.queries), settings, observer)
    label = settings.cluster_label
    probe.recommendation_queries = promql.recommendation_queries(settings.queries)
    probe.rate_window_seconds = promql.rate_window_seconds(settings.queries)
    if end <= start:  # nothing to collect yet (the run says so): no clusters to look up
        return {name: probe for name in (requested or [settings.cluster_name])}
    discovered = probe.label_values(label, promql.scrape_health_series(settings.queries), start, end)
    scopes = resolve_clusters(discovered, requested, all_clusters=all_clusters, own=settings.cluster_name, label=label)
    sources = {}
    for scope in scopes:
        queries = with_state_metrics_interval(probe, promql.for_cluster(settings.queries, scope.labels), start, end)
        queries, note = with_gpu_exporter(probe, queries, start, end)
        sources[scope.name] = PrometheusSource.from_settings(url, promql.build(queries), settings, observer)
        sources[scope.name].recommendation_queries = promql.recommendation_queries(queries)
        sources[scope.name].rate_window_seconds = promql.rate_window_seconds(queries)
        sources[scope.name].notes = (note,) if note is not None else ()
    return sources
