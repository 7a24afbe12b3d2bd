"""One report job, as `kubecharge report` and `kubecharge demo` both run it: validate every input, collect into
the ledger, publish. Neither command has a copy; the CLI adds only its terminal (progress, tables, messages)."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from kubecharge import manifests
from kubecharge.collect.clusters import cluster_sources
from kubecharge.collect.promql import build as build_queries
from kubecharge.domain import periods
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import IncompletePeriod, InputError, SourceError
from kubecharge.pipeline import (
    FORMAT_FILES,
    ChunkProgress,
    ReportResult,
    export_files,
    manifest_fields,
    read_node_bill,
    record_failure,
    request_for,
    run_report,
    stamper,
)  # fmt: skip
from kubecharge.publish.directory import check_target, publish_directory
from kubecharge.publish.exports import PublishOutcome, period_prefix, publish_export
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.settings import Settings
from kubecharge.store.repository import Repository


def s3_options(settings: Settings, spec: UsageReportSpec | None = None) -> S3Options:
    """Endpoint and region from settings; credentials from the standard AWS environment (boto3's chain);
    the Object Lock retention of finals from the report's objectStorage output, if it has one."""
    storage = spec.object_storage if spec is not None else None
    options = S3Options(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return dataclasses.replace(options, retention=storage.retention) if storage is not None else options


@dataclass(frozen=True)
class ProducedReport:
    result: ReportResult
    seconds_waiting_on_prometheus: float
    export: PublishOutcome | None
    queries_split: int = 0  # queries halved (again and again) to fit the backend's sample limit


def produce_report(
    *,
    settings: Settings,
    prometheus: str | None,
    mappings_path: Path,
    period_text: str,
    out: Path,
    report_path: Path | None,
    db: str,
    clusters: Sequence[str] = (),
    all_clusters: bool = False,
    publish: str | None = None,
    recollect: bool = False,
    as_of: datetime | None = None,
    source: str | None = None,
    force: bool = False,
    node_costs: Path | None = None,
    progress: ChunkProgress | None = None,
    require_complete: bool = False,
) -> ProducedReport:
    """Validate every input, run the pipeline, then publish: nothing is written before inputs are known good.

    `prometheus` is the command line's `--prometheus` (None when not given): it wins over the UsageReport's
    `spec.prometheus.url`, which wins over KUBECHARGE_PROMETHEUS_URL."""
    period = periods.parse(period_text)
    mappings = manifests.load_team_mappings(mappings_path)
    spec = manifests.load_usage_report(report_path) if report_path is not None else UsageReportSpec()
    if node_costs is not None:  # the command line's bill wins over the report's, and turns on full cost
        spec = dataclasses.replace(spec, pricing=dataclasses.replace(spec.pricing, node_costs_from=str(node_costs)))
    node_bill = read_node_bill(spec, lambda: s3_options(settings, spec), node_costs)
    check_target(out, force=force)
    store = open_store(publish, s3_options(settings, spec)) if publish else None
    queries = build_queries(settings.queries)
    url = check_prometheus_url(prometheus or spec.prometheus_url or settings.prometheus_url)
    requested = list(clusters or spec.clusters)
    if len(requested) == 1:  # one cluster by name: also this cluster's name where the series carry none
        settings = settings.model_copy(update={"cluster_name": requested[0]})
    now = min(as_of or datetime.now(UTC), datetime.now(UTC))
    repository = Repository(db)
    try:
        try:
            sources = cluster_sources(url, settings, period.start, min(period.end, now), requested,
                                      all_clusters=all_clusters)  # fmt: skip
        except SourceError as error:
            asked = request_for(settings, period, mappings, spec, now=now, prometheus_url=url, source=source,
                                clusters=requested)  # fmt: skip
            record_failure(repository, asked, queries, error)
            raise
        request = request_for(settings, period, mappings, spec, now=now, prometheus_url=url, recollect=recollect,
                              source=source, clusters=list(sources), runner=f"cli@{socket.gethostname()}",
                              node_bill=node_bill)  # fmt: skip
        result = run_report(sources, queries, repository, request, progress)
    finally:
        repository.close()
    seen = result.chargeback.completeness
    if require_complete and (seen is None or not seen.complete):
        described = seen.describe() if seen is not None else "no completeness recorded"
        raise IncompletePeriod(
            f"period {period.name} is incomplete ({described}); with --require-complete nothing was written or "
            "published (the database keeps the hours collected): run again once the data is there, or without "
            "--require-complete to report the hours that exist"
        )
    export = None
    if store is not None:
        final = result.chargeback.state == "final"  # finalizeAfter has passed since the period ended
        formats = spec.object_storage.formats if spec.object_storage else tuple(FORMAT_FILES)
        export = publish_export(
            store, period_prefix(spec.namespace, spec.name, period.name), export_files(result.chargeback, formats),
            final=final, manifest_fields=manifest_fields(request, result, queries),
            stamp=stamper(result.chargeback, formats),
        )  # fmt: skip
    publish_directory(out, result.files, force=force)
    waited = sum(s.seconds_waiting for s in sources.values())
    return ProducedReport(result, waited, export, sum(s.splits for s in sources.values()))


def check_prometheus_url(url: str) -> str:
    """A Prometheus URL without a scheme or host is bad input with its fix, not an unreachable server."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        fixed = f"http://{url.strip()}" if "://" not in url else "http://HOST:9090"
        raise InputError(f"Prometheus URL {url!r} needs http:// or https:// and a host, e.g. {fixed}")
    return url
