"""Produce and publish a report: the one job that `kubecharge report`, the demo, the operator and the portal run.

Every input is checked before the first write (the cloud bill, the output folder, the object store, the Prometheus
URL); then the period is computed from the ledger (collecting only what it lacks), rendered once and published:
the finance export first, then the caller's own place (a folder; a ConfigMap's data, which may point at the
export), so a failure leaves every earlier output as it was. Credentials and the clock come from the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from kubecharge.collect.clusters import cluster_sources
from kubecharge.collect.prometheus import QueryObserver
from kubecharge.collect.promql import QuerySet
from kubecharge.collect.promql import build as build_queries
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.periods import Period
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import IncompletePeriod, InputError, SourceError
from kubecharge.pipeline.outputs import FORMAT_FILES, export_files, manifest_fields, render_all, stamper
from kubecharge.pipeline.request import read_node_bill, request_for
from kubecharge.pipeline.run import ChunkProgress, ReportResult, record_failure, run_report
from kubecharge.publish.directory import check_target, publish_directory
from kubecharge.publish.exports import PublishOutcome, period_prefix, publish_export
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.render.configmap import configmap_data
from kubecharge.settings import Settings
from kubecharge.store.repository import Repository

__all__ = [
    "JobOutcome",
    "Ledger",
    "LedgerAccess",
    "PublishOutcome",
    "ReportJob",
    "S3Credentials",
    "S3Options",
    "check_prometheus_url",
    "open_ledger",
    "produce_report",
    "report_queries",
    "s3_from_settings",
]

Ledger = Repository  # what a caller holds open between jobs (the operator) or for one (the CLI)
LedgerAccess = Callable[[], AbstractContextManager[Ledger]]  # opened once the inputs are known good
S3Credentials = Callable[[], S3Options]  # read only when a bill or an export needs them


@dataclass(frozen=True)
class ReportJob:
    """One report to produce, as any caller asks for it: inputs already parsed, credentials and clock passed in."""

    settings: Settings
    period: Period
    mappings: Sequence[TeamMapping]
    spec: UsageReportSpec
    now: datetime  # the job's clock: no hour after it is charged (`--as-of`, the operator's clock)
    runner: str  # who runs it, for the audit trail: `cli@host`, the operator replica's name
    s3: S3Credentials
    prometheus_url: str | None = None  # wins over the report's spec.prometheus.url, which wins over the settings
    clusters: Sequence[str] = ()  # wins over the report's spec.clusters
    all_clusters: bool = False
    recollect: bool = False  # ask Prometheus again for hours the ledger holds
    source: str | None = None  # the ledger's name for the Prometheus (default: the settings', else its URL)
    node_costs: Path | None = None  # a local FOCUS bill: wins over spec.pricing.nodeCostsFrom, turns on full cost
    export_to: str | None = None  # the finance export's URL (s3://bucket/prefix or file://); None: no export
    final: bool | None = None  # the export's state; None: final once finalizeAfter has passed since the period
    folder: Path | None = None  # write the report files here (the CLI's --out)
    force: bool = False  # ... even into a folder holding other files than a report's
    configmap: bool = False  # also render the data of the report's ConfigMap (the operator's)
    require_complete: bool = False  # fail, writing and publishing nothing, if the period has hours without data
    progress: ChunkProgress | None = None  # called as chunks are stored, and once more before publishing
    observer: QueryObserver | None = None  # told of every Prometheus query (the operator's self-metrics)


@dataclass(frozen=True)
class JobOutcome:
    result: ReportResult
    files: dict[str, bytes]  # every format's file, rendered once
    export: PublishOutcome | None
    configmap_data: dict[str, str] | None  # the ConfigMap's data, when the job asked for it
    seconds_waiting_on_prometheus: float
    queries_split: int = 0  # queries halved (again and again) to fit the backend's sample limit


def s3_from_settings(settings: Settings, spec: UsageReportSpec | None = None) -> S3Options:
    """Endpoint and region from settings; credentials from the standard AWS environment (boto3's chain);
    the Object Lock retention of finals from the report's objectStorage output, if it has one."""
    storage = spec.object_storage if spec is not None else None
    options = S3Options(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return dataclasses.replace(options, retention=storage.retention) if storage is not None else options


def report_queries(settings: Settings) -> QuerySet:
    return build_queries(settings.queries)


def open_ledger(url: str, *, migrate: bool = True) -> Ledger:
    """The ledger at a SQLAlchemy URL; `migrate=False` where schema changes are a separate step (the operator)."""
    return Repository(url, migrate=migrate)


def check_folder(folder: Path, *, force: bool = False) -> None:
    """`--out` checked before any work (the demo asks before it generates a history)."""
    check_target(folder, force=force)


def check_prometheus_url(url: str) -> str:
    """A Prometheus URL without a scheme or host is bad input with its fix, not an unreachable server."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        fixed = f"http://{url.strip()}" if "://" not in url else "http://HOST:9090"
        raise InputError(f"Prometheus URL {url!r} needs http:// or https:// and a host, e.g. {fixed}")
    return url


def produce_report(job: ReportJob, ledger_access: LedgerAccess) -> JobOutcome:
    """Check every input, compute the period into and from the ledger, render it once, then publish. The ledger
    is opened after the inputs are checked: bad input leaves no database behind."""
    spec, settings, period = job.spec, job.settings, job.period
    if job.node_costs is not None:  # the caller's bill wins over the report's, and turns on full cost
        spec = dataclasses.replace(spec, pricing=dataclasses.replace(spec.pricing, node_costs_from=str(job.node_costs)))
    node_bill = read_node_bill(spec, job.s3, job.node_costs)
    if job.folder is not None:
        check_target(job.folder, force=job.force)
    store = open_store(job.export_to, job.s3()) if job.export_to else None
    queries = report_queries(settings)
    url = check_prometheus_url(job.prometheus_url or spec.prometheus_url or settings.prometheus_url)
    requested = list(job.clusters or spec.clusters)
    if len(requested) == 1:  # one cluster by name: also this cluster's name where the series carry none
        settings = settings.model_copy(update={"cluster_name": requested[0]})
    now = min(job.now, datetime.now(UTC))
    with ledger_access() as ledger:
        try:
            sources = cluster_sources(url, settings, period.start, min(period.end, now), requested,
                                      all_clusters=job.all_clusters, observer=job.observer)  # fmt: skip
        except SourceError as error:
            asked = request_for(settings, period, job.mappings, spec, now=now, prometheus_url=url,
                                source=job.source, clusters=requested, runner=job.runner)  # fmt: skip
            record_failure(ledger, asked, queries, error)
            raise
        request = request_for(settings, period, job.mappings, spec, now=now, prometheus_url=url,
                              recollect=job.recollect, source=job.source, clusters=list(sources),
                              runner=job.runner, node_bill=node_bill)  # fmt: skip
        result = run_report(sources, queries, ledger, request, job.progress)
    chargeback = result.chargeback
    seen = chargeback.completeness
    if job.require_complete and (seen is None or not seen.complete):
        described = seen.describe() if seen is not None else "no completeness recorded"
        raise IncompletePeriod(
            f"period {period.name} is incomplete ({described}); with --require-complete nothing was written or "
            "published (the database keeps the hours collected): run again once the data is there, or without "
            "--require-complete to report the hours that exist"
        )
    files = render_all(chargeback)
    if job.progress is not None:
        job.progress(result.hours_queried, result.hours_queried)  # the operator renews its run lease here
    export = None
    if store is not None:
        formats = spec.object_storage.formats if spec.object_storage else tuple(FORMAT_FILES)
        final = job.final if job.final is not None else chargeback.state == "final"
        export = publish_export(
            store, period_prefix(spec.namespace, spec.name, period.name), export_files(chargeback, formats, files),
            final=final, manifest_fields=manifest_fields(request, chargeback, queries),
            stamp=stamper(chargeback, formats),
        )  # fmt: skip
    if job.folder is not None:
        publish_directory(job.folder, files, force=job.force)
    data = None
    if job.configmap:
        data = configmap_data(files, f"{export.location}/{export.latest}" if export is not None else None)
    return JobOutcome(
        result,
        files,
        export,
        data,
        sum(source.seconds_waiting for source in sources.values()),
        sum(source.splits for source in sources.values()),
    )
