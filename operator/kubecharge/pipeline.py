"""The pipeline: collect → roll up → store → attribute → price → render. The only module that knows the order.

The CLI and the operator both call `run_report`. Collection covers the whole period before anything is
written: the rollups of a run are stored in one transaction, so a failure at any step leaves the database
as it was (apart from the run record that says it failed) and produces no files.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubecharge import __version__, attribute, pricing, rollup
from kubecharge.collect.chunks import collect_chunk
from kubecharge.collect.promql import QuerySet
from kubecharge.collect.source import UsageSource
from kubecharge.domain.charges import Chargeback, TeamInfo
from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.periods import Period
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.domain.usage import NamespaceHour
from kubecharge.errors import KubechargeError, NoUsageData
from kubecharge.render import documents, focus, tables
from kubecharge.store.repository import Repository
from kubecharge.store.tables import ReportRun

ChunkProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    mappings: Sequence[TeamMapping]
    report: UsageReportSpec
    cluster: str
    chunk_hours: int = 24


@dataclass
class ReportResult:
    chargeback: Chargeback
    files: dict[str, bytes]
    run_id: int
    rollup_rows: int
    mapping_conflicts: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def mappings_snapshot(mappings: Sequence[TeamMapping]) -> tuple[str, str]:
    """The mappings as canonical JSON and its SHA-256: what the run attributed with, for the audit trail."""
    text = json.dumps([m.raw for m in sorted(mappings, key=lambda m: m.name)], sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def collect_period(
    source: UsageSource, period: Period, chunk_hours: int, progress: ChunkProgress | None = None
) -> list[NamespaceHour]:
    missing = source.missing_scrape_targets(period.start, period.end)
    if missing:
        raise NoUsageData(
            f"Prometheus has {' and '.join(missing)} between {tables.iso(period.start)} and {tables.iso(period.end)}"
        )
    chunks = list(period.chunks(chunk_hours))
    rows: list[NamespaceHour] = []
    for done, (start, end) in enumerate(chunks, start=1):
        rows.extend(rollup.namespace_hours(collect_chunk(source, start, end)))
        if progress is not None:
            progress(done, len(chunks))
    if not rows:  # known only after asking: a separate presence query would cost Prometheus a full pass
        raise NoUsageData(
            f"Prometheus has no cAdvisor or kube-state-metrics series between {tables.iso(period.start)} and "
            f"{tables.iso(period.end)}; check that it scrapes both and keeps data that far back"
        )
    return rows


def team_info(mappings: Sequence[TeamMapping]) -> dict[str, TeamInfo]:
    info: dict[str, TeamInfo] = {UNALLOCATED: TeamInfo(UNALLOCATED, "Unallocated")}
    for mapping in sorted(mappings, key=lambda m: (-m.priority, m.name)):
        if mapping.team not in info:
            budget = mapping.budget
            info[mapping.team] = TeamInfo(
                mapping.team,
                mapping.display_name,
                mapping.cost_center,
                mapping.owners,
                float(budget.monthly) if budget else None,
                budget.currency if budget else None,
            )
    return info


def build_chargeback(rows: Sequence[NamespaceHour], request: ReportRequest) -> Chargeback:
    spec = request.report
    lines = pricing.price(attribute.attribute(rows, request.mappings), spec.charge_basis, spec.pricing)
    return Chargeback(
        period_name=request.period.name,
        period_start=request.period.start,
        period_end=request.period.end,
        cluster=request.cluster,
        basis=spec.charge_basis,
        currency=spec.pricing.currency,
        prices=dict(pricing.price_table(spec.pricing)),
        lines=tuple(lines),
        teams_info=team_info(request.mappings),
    )


def render_all(chargeback: Chargeback) -> dict[str, bytes]:
    return {
        "chargeback.csv": tables.chargeback_csv(chargeback),
        "chargeback.json": tables.chargeback_json(chargeback),
        "report.md": documents.report_markdown(chargeback),
        "report.html": documents.report_html(chargeback),
    }


FORMAT_FILES = {
    "csv": "chargeback.csv",
    "json": "chargeback.json",
    "focus": "focus.csv",
    "parquet": "focus.parquet",
    "html": "report.html",
    "markdown": "report.md",
}


def export_files(chargeback: Chargeback, formats: Sequence[str]) -> dict[str, bytes]:
    """The files of a finance export. CSV and JSON are always included: they carry the numbers that decide
    whether a new version is needed and what a restatement's drift is."""
    rendered = render_all(chargeback)
    wanted = {FORMAT_FILES[f] for f in formats} | {"chargeback.csv", "chargeback.json"}
    if "focus.csv" in wanted:
        rendered["focus.csv"] = focus.focus_csv(chargeback)
    if "focus.parquet" in wanted:
        rendered["focus.parquet"] = focus.focus_parquet(chargeback)
    return {name: data for name, data in rendered.items() if name in wanted}


def manifest_fields(request: ReportRequest, result: ReportResult, queries: QuerySet) -> dict[str, Any]:
    """What a finance manifest says besides its files: which period, how computed, with what totals."""
    chargeback = result.chargeback
    snapshot, snapshot_sha = mappings_snapshot(request.mappings)
    unallocated = [line for line in chargeback.lines if line.team == UNALLOCATED]
    return {
        "schema": "kubecharge.io/export-manifest/v1",
        "kubechargeVersion": __version__,
        "cluster": request.cluster,
        "report": {"namespace": request.report.namespace, "name": request.report.name},
        "period": {"name": request.period.name, "start": tables.iso(request.period.start),
                   "end": tables.iso(request.period.end)},
        "chargeBasis": str(request.report.charge_basis),
        "currency": chargeback.currency,
        "prices": chargeback.prices,
        "querySetSha256": queries.digest,
        "querySet": queries.as_dict(),
        "mappingsSha256": snapshot_sha,
        "mappings": json.loads(snapshot),
        "totals": totals_record(chargeback),
        "unallocated": {"cost": math.fsum(line.costs.total for line in unallocated),
                        "cpuCoreHoursCharged": math.fsum(line.cpu_core_hours_charged for line in unallocated)},
    }  # fmt: skip


def totals_record(chargeback: Chargeback) -> dict[str, Any]:
    totals = chargeback.total_quantities
    return {
        "cost": chargeback.total_costs.total,
        "currency": chargeback.currency,
        "cpuCoreHours": chargeback.cpu_core_hours_charged,
        "memoryGiBHours": chargeback.memory_gib_hours_charged,
        "storageGiBHours": totals.storage_gib_hours,
        "networkGiB": totals.network_gib,
        "coverage": chargeback.coverage,
    }


def run_report(
    source: UsageSource,
    queries: QuerySet,
    repository: Repository,
    request: ReportRequest,
    progress: ChunkProgress | None = None,
) -> ReportResult:
    """Collect the period, replace its rollups, and price and render the report from the stored hours."""
    snapshot, snapshot_sha = mappings_snapshot(request.mappings)
    run_id = repository.start_run(
        ReportRun(
            cluster=request.cluster,
            report=f"{request.report.namespace}/{request.report.name}",
            period_name=request.period.name,
            period_start=request.period.start,
            period_end=request.period.end,
            started_at=datetime.now(UTC),
            result="running",
            query_set_sha256=queries.digest,
            query_set_json=json.dumps(queries.as_dict(), sort_keys=True),
            mappings_sha256=snapshot_sha,
            mappings_json=snapshot,
            kubecharge_version=__version__,
        )
    )
    try:
        rows = collect_period(source, request.period, request.chunk_hours, progress)
        stored = repository.replace_hours(request.cluster, request.period.start, request.period.end, rows)
        stored_rows = repository.load_hours(request.cluster, request.period.start, request.period.end)
        chargeback = build_chargeback(stored_rows, request)
        overlaps = attribute.conflicts(stored_rows, request.mappings)
        files = render_all(chargeback)
    except Exception as error:
        message = str(error) if isinstance(error, KubechargeError) else f"internal error: {error!r}"
        repository.finish_run(run_id, "failed", message, {})
        raise
    repository.finish_run(run_id, "succeeded", "", totals_record(chargeback))
    return ReportResult(chargeback, files, run_id, stored, overlaps)
