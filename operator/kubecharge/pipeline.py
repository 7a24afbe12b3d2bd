"""The pipeline: collect → roll up → store → attribute → price → render. The only module that knows the order.

The CLI and the operator both call `run_report`. The database is the ledger: a run asks Prometheus only for the
complete hours the ledger lacks plus a bounded re-check window, stores each chunk of hours in one transaction as
it arrives (an emptier answer never replaces a stored hour), and then prices and renders the whole period from
the ledger. A failure at any step leaves every hour either as it was or newly and wholly collected, records the
run as failed, and produces no files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kubecharge import __version__, allocate, attribute, outlook, pricing, rollup
from kubecharge.collect import bills
from kubecharge.collect.bills import FocusBill
from kubecharge.collect.chunks import collect_chunks
from kubecharge.collect.promql import QuerySet
from kubecharge.collect.source import UsageSource
from kubecharge.domain import ledger
from kubecharge.domain.charges import Chargeback, TeamInfo
from kubecharge.domain.collected import UsageNote
from kubecharge.domain.ledger import NOTHING_OBSERVED as NO_HOUR
from kubecharge.domain.ledger import CollectionPolicy, Completeness, HourCompleteness
from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.outlook import Outlook
from kubecharge.domain.periods import HOUR, Period, PeriodKind
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.domain.usage import AttributedHour, NamespaceHour
from kubecharge.errors import InputError, KubechargeError, NoUsageData, PeriodNotStarted, SourceError
from kubecharge.pricing import NodeBill, NodeHourCost, NodeKey
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.render import documents, focus, tables
from kubecharge.settings import Settings
from kubecharge.store.repository import Repository
from kubecharge.store.tables import ReportRun

ChunkProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    mappings: Sequence[TeamMapping]
    report: UsageReportSpec
    cluster: str
    source: str  # the metrics source's name in the ledger
    policy: CollectionPolicy
    chunk_hours: int = 24
    concurrency: int = 1
    clusters: tuple[str, ...] = ()  # every cluster reported on; empty: just `cluster`
    runner: str = ""  # the replica (pod) or CLI making the run, for the audit trail
    node_bill: NodeBill | None = None  # a cloud bill pricing the nodes it lists (`--node-costs`, nodeCostsFrom)

    @property
    def cluster_names(self) -> tuple[str, ...]:
        return self.clusters or (self.cluster,)


@dataclass
class ReportResult:
    chargeback: Chargeback
    files: dict[str, bytes]
    run_id: int
    hours_queried: int  # hours asked from Prometheus; the rest came from the ledger
    hours_replaced: int  # hours written to the ledger by this run
    mapping_conflicts: dict[str, list[str]] = field(default_factory=dict)
    unmatched_mappings: list[str] = field(default_factory=list)  # TeamMappings that claimed no namespace
    newest_hour: datetime | None = None  # the newest hour with data in the ledger (ingest latency)
    duplicate_series_ratio: float | None = None  # copies of pod series collapsed in the last hour (an SLI)
    notes: list[str] = field(default_factory=list)  # what the source found about measuring usage, for the user


def source_name(url: str) -> str:
    """The ledger's name for a Prometheus: its URL without credentials, query or trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


def request_for(
    settings: Settings,
    period: Period,
    mappings: Sequence[TeamMapping],
    spec: UsageReportSpec,
    *,
    now: datetime,
    prometheus_url: str,
    recollect: bool = False,
    source: str | None = None,
    clusters: Sequence[str] = (),
    runner: str = "",
    node_bill: NodeBill | None = None,
) -> ReportRequest:
    """The request the CLI and the operator both build: ledger source, collection policy, chunking.

    The re-check window for late data is the setting, bounded by the report's lateness window `finalizeAfter`.
    The source is `source` if given, else `KUBECHARGE_SOURCE_NAME` for the default Prometheus, else the URL.
    """
    default_source = settings.source_name if prometheus_url == settings.prometheus_url else None
    policy = CollectionPolicy(
        now=min(now, datetime.now(UTC)),  # hours that have not happened are never collected (nor remembered empty)
        settle=timedelta(seconds=settings.settle_seconds),
        recheck=min(timedelta(hours=settings.recheck_hours), spec.finalize_after),
        recollect=recollect,
    )
    return ReportRequest(
        period=period,
        mappings=mappings,
        report=spec,
        cluster="+".join(clusters) if clusters else settings.cluster_name,
        source=source or default_source or source_name(prometheus_url),
        policy=policy,
        chunk_hours=settings.query_chunk_hours,
        concurrency=settings.prometheus_concurrency,
        clusters=tuple(clusters),
        runner=runner,
        node_bill=node_bill,
    )


def read_node_bill(spec: UsageReportSpec, s3: Callable[[], S3Options], path: Path | None = None) -> FocusBill | None:
    """The cloud bill that prices the report's nodes: `path` (the CLI's `--node-costs`), else the report's
    `spec.pricing.nodeCostsFrom` (s3://bucket/key, read with the report's object-storage credentials)."""
    if path is not None:
        try:
            data, name = path.read_bytes(), str(path)
        except OSError as error:
            raise InputError(f"node costs {path}: cannot read it ({error.strerror}); give a FOCUS CSV or Parquet "
                             "file") from None  # fmt: skip
    elif spec.pricing.node_costs_from:
        bucket, _, key = spec.pricing.node_costs_from.removeprefix("s3://").partition("/")
        data, name = open_store(f"s3://{bucket}", s3(), for_writing=False).get(key), spec.pricing.node_costs_from
    else:
        return None
    return bills.read_focus_bill(data, name, spec.pricing.currency)


def mappings_snapshot(mappings: Sequence[TeamMapping]) -> tuple[str, str]:
    """The mappings as canonical JSON and its SHA-256: what the run attributed with, for the audit trail."""
    text = json.dumps([m.raw for m in sorted(mappings, key=lambda m: m.name)], sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def check_observed(
    known: Mapping[datetime, HourCompleteness], start: datetime, end: datetime, cluster: str | None = None
) -> None:
    """Stop when the period has no data at all, or one of the two scrape jobs is missing from every hour:
    memory, storage and request figures would otherwise silently be zero."""
    when = f"between {tables.iso(start)} and {tables.iso(end)}" + (f" for cluster {cluster}" if cluster else "")
    if not any(seen.observed for seen in known.values()):
        raise NoUsageData(
            f"Prometheus has no cAdvisor or kube-state-metrics data {when} and the ledger holds none; check that "
            "it scrapes both and keeps data that far back"
        )
    jobs = (
        ("cAdvisor", "KUBECHARGE_QUERY_CADVISOR_JOB_LABELS", [s.cadvisor_targets_expected for s in known.values()]),
        ("kube-state-metrics", "KUBECHARGE_QUERY_STATE_METRICS_JOB_LABELS",
         [s.state_metrics_targets_expected for s in known.values()]),
    )  # fmt: skip
    missing = [
        f"no {what} scrape (`up`) series {when}; either Prometheus did not scrape {what} then, "
        f"or {setting} does not match its job labels"
        for what, setting, targets in jobs
        if not any(targets)
    ]
    if missing:
        raise NoUsageData(f"Prometheus has {' and '.join(missing)}")


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
                budget.thresholds if budget else (),
            )
    return info


def _priced(request: ReportRequest, attributed: Sequence[AttributedHour], start: datetime, end: datetime,
            node_costs: Mapping[NodeKey, NodeHourCost]) -> Chargeback:  # fmt: skip
    """Attributed hours over [start, end), priced: the period's report, one of its days, or the period before.

    Under full-cost allocation the nodes of [start, end) are priced and their idle (and the shared namespaces'
    cost) allocated within that span, so every span's lines add up to what the cluster cost in it."""
    spec = request.report
    model = spec.full_cost
    allocation: dict[str, Any] = {}
    if model is None:
        lines = pricing.price(attributed, spec.charge_basis, spec.pricing)
    else:
        within = {key: cost for key, cost in node_costs.items() if start <= key[2] < end}
        full = pricing.price_full(attributed, spec.charge_basis, spec.pricing, within)
        lines = allocate.allocate(full.lines, full.idle, model)
        allocation = {"cluster_cost": full.cluster_cost, "node_types": full.node_types, "idle_mode": str(model.idle),
                      "shared_namespaces": model.shared.namespaces if model.shared else ()}  # fmt: skip
    return Chargeback(
        period_name=request.period.name,
        period_start=start,
        period_end=end,
        cluster=request.cluster,
        clusters=request.cluster_names,
        basis=spec.charge_basis,
        currency=spec.pricing.currency,
        prices=dict(pricing.price_table(spec.pricing)),
        lines=tuple(lines),
        teams_info=team_info(request.mappings),
        state="final" if request.policy.now >= request.period.end + spec.finalize_after else "provisional",
        **allocation,
    )


def unmeasured(rows: Iterable[NamespaceHour], known: Mapping[datetime, HourCompleteness],
               notes: Iterable[UsageNote]) -> dict[str, str]:  # fmt: skip
    """GPU use is unknown where GPUs were requested and no hour of them had a utilisation series (or stored use):
    decided from the ledger, so a report reads the same whatever Prometheus holds today. A period measured in
    part shows the use of the hours measured."""
    requested: set[datetime] = set()
    measured: set[datetime] = set()
    for row in rows:
        if row.quantities.gpu_hours_request > 0:
            requested.add(row.hour_start)
        if row.quantities.gpu_hours_usage > 0:
            measured.add(row.hour_start)
    measured |= {hour for hour in requested if known.get(hour, NO_HOUR).gpu_utilisation_series > 0}
    if not requested or measured & requested:
        return {}
    said = next((note.message for note in notes if note.resource == "gpu" and not note.measured), None)
    return {
        "gpu": said
        or f"GPU utilisation is unknown: none of the {len(requested)} hours with GPUs requested had "
        "a utilisation series when collected (dcgm-exporter's job is set by KUBECHARGE_QUERY_GPU_JOB_LABELS)"
    }


def stored_nodes(repository: Repository, request: ReportRequest, clusters: Iterable[str], start: datetime,
                 end: datetime) -> list[NodeHour]:  # fmt: skip
    """The ledger's node-hours of [start, end) for the clusters; none read for direct charges (nothing uses them)."""
    if request.report.full_cost is None:
        return []
    return [node for cluster in clusters for node in repository.load_nodes(cluster, start, end)]


def node_costs_of(request: ReportRequest, nodes: Sequence[NodeHour]) -> dict[NodeKey, NodeHourCost]:
    """The nodes' hourly costs under the report's pricing (none for direct charges: nothing needs them)."""
    if request.report.full_cost is None:
        return {}
    return pricing.node_hour_costs(nodes, request.report.pricing, request.node_bill)


def held_history(source: UsageSource, start: datetime, end: datetime, known: Mapping[datetime, HourCompleteness],
                 policy: CollectionPolicy) -> list[datetime]:  # fmt: skip
    """Hours of the history before the period that the ledger lacks and Prometheus holds. Which it holds is asked
    once from `up` alone (cheap); hours it does not hold are not recorded, so a fresh database over a Prometheus
    with six weeks of data ends up with the same history as a long-running one. A Prometheus that cannot answer
    now leaves the history as it is (the next run asks again): a period the ledger holds is still reported."""
    missing = ledger.hours_to_collect(start, end, known, dataclasses.replace(policy, recollect=False))
    held: set[datetime] = set()
    try:
        for first, last in ledger.ranges(missing, outlook.HISTORY_PROBE_HOURS):
            held |= {hour for hour, seen in source.scrape_completeness(first, last).items() if seen.observed}
    except SourceError:
        return []
    return [hour for hour in missing if hour in held]


def duplicate_series_ratio(sources: Mapping[str, UsageSource], until: datetime) -> float | None:
    """The SLI of the last complete hour, the largest over the clusters; None when no source can say now (the
    report does not depend on it)."""
    found = []
    for source in sources.values():
        try:
            ratio = source.duplicate_series_ratio(until - HOUR, until)
        except SourceError:
            continue
        if ratio is not None:
            found.append(ratio)
    return max(found, default=None)


def build_chargeback(
    rows: Sequence[NamespaceHour], request: ReportRequest, completeness: Completeness | None = None,
    nodes: Sequence[NodeHour] = (),
) -> Chargeback:  # fmt: skip
    """The priced period, with the same lines per UTC day (each hour attributed once, for both)."""
    return priced_period(request, attribute.attribute(rows, request.mappings), node_costs_of(request, nodes),
                         completeness)  # fmt: skip


def priced_period(request: ReportRequest, attributed: Sequence[AttributedHour],
                  node_costs: Mapping[NodeKey, NodeHourCost], completeness: Completeness | None = None
                  ) -> Chargeback:  # fmt: skip
    """`build_chargeback` on hours already attributed (`attributed` and `node_costs` may reach beyond the period)."""
    start, end = request.period.start, request.period.end
    within = [item for item in attributed if start <= item.row.hour_start < end]
    days = priced_days(request, within, node_costs, start, end)
    return dataclasses.replace(_priced(request, within, start, end, node_costs), completeness=completeness,
                               days=days, generated_at=datetime.now(UTC))  # fmt: skip


def priced_days(request: ReportRequest, attributed: Sequence[AttributedHour],
                node_costs: Mapping[NodeKey, NodeHourCost], start: datetime, end: datetime
                ) -> tuple[Chargeback, ...]:  # fmt: skip
    """Each UTC day of [start, end) with data priced on its own, as the daily CSV shows it."""
    by_day: dict[datetime, list[AttributedHour]] = {}
    for item in attributed:
        if start <= item.row.hour_start < end:
            by_day.setdefault(item.row.hour_start.replace(hour=0), []).append(item)
    for key in node_costs:  # a day with nodes but no usage still has their (idle) cost
        if start <= key[2] < end:
            by_day.setdefault(key[2].replace(hour=0), [])
    return tuple(_priced(request, items, max(day, start), min(day + timedelta(days=1), end), node_costs)
                 for day, items in sorted(by_day.items()))  # fmt: skip


def outlook_of(chargeback: Chargeback, request: ReportRequest, attributed: Sequence[AttributedHour],
               node_costs: Mapping[NodeKey, NodeHourCost], known: Mapping[datetime, HourCompleteness],
               since: datetime, until: datetime) -> Outlook:  # fmt: skip
    """Forecasts, budgets and anomalies from the ledger's attributed history [since, until): the days before the
    period are priced as the period's own days are, so baselines and forecasts speak of the same costs as the
    report."""
    attributed = [item for item in attributed if since <= item.row.hour_start]
    before = priced_days(request, attributed, node_costs, since, request.period.start)
    in_progress = until < request.period.end  # only a forecast needs the hours' shape
    hourly = pricing.hourly_costs(attributed if in_progress else (), request.report.charge_basis,
                                  request.report.pricing)  # fmt: skip
    return outlook.outlook(
        chargeback, (*before, *chargeback.days), hourly, known, request.period, until, request.report.anomalies
    )


def previous_period(period: Period) -> Period | None:
    """The period a report is compared with (none for a custom range)."""
    return None if period.kind is PeriodKind.CUSTOM else period.previous()


def previous_total(request: ReportRequest, attributed: Sequence[AttributedHour],
                   node_costs: Mapping[NodeKey, NodeHourCost]) -> tuple[str, float] | None:  # fmt: skip
    """The period before this one, priced at this report's prices from what the ledger holds of it (`attributed`
    and `node_costs` may hold more; None when it holds nothing of it, or the period is a custom range): a team
    lead's first question is "more or less than last time?"."""
    before = previous_period(request.period)
    if before is None:
        return None
    within = [item for item in attributed if before.start <= item.row.hour_start < before.end]
    if not within:
        return None
    return before.name, _priced(request, within, before.start, before.end, node_costs).total_allocated


DOCUMENTS = {"report.md": documents.report_markdown, "report.html": documents.report_html}  # what says its version


def render_all(chargeback: Chargeback) -> dict[str, bytes]:
    return {
        "chargeback.csv": tables.chargeback_csv(chargeback),
        "chargeback-daily.csv": tables.daily_csv(chargeback),
        "chargeback.json": tables.chargeback_json(chargeback),
        "report.md": documents.report_markdown(chargeback),
        "report.html": documents.report_html(chargeback),
        **{f"teams/{team}.md": page for team, page in documents.team_markdowns(chargeback).items()},
    }


FORMAT_FILES = {
    "csv": "chargeback.csv",
    "daily": "chargeback-daily.csv",
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


def stamper(chargeback: Chargeback, formats: Sequence[str]) -> Callable[[str, str | None], dict[str, bytes]]:
    """The export's documents rendered again for the version they are written into."""

    def stamp(version: str, restates: str | None) -> dict[str, bytes]:
        stamped = dataclasses.replace(chargeback, version=version, restates=restates)
        wanted = {FORMAT_FILES[f] for f in formats}
        return {name: render(stamped) for name, render in DOCUMENTS.items() if name in wanted}

    return stamp


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
        "completeness": tables.completeness_record(chargeback.completeness),
        "unallocated": {"cost": math.fsum(line.costs.total for line in unallocated),
                        "cpuCoreHoursCharged": math.fsum(line.cpu_core_hours_charged for line in unallocated)},
    }  # fmt: skip


def totals_record(chargeback: Chargeback) -> dict[str, Any]:
    return {
        "cost": chargeback.total_costs.total,
        "currency": chargeback.currency,
        **tables.resource_totals(chargeback),
        "coverage": chargeback.coverage,
    }


def combined(knowns: Mapping[str, Mapping[datetime, HourCompleteness]]) -> dict[datetime, HourCompleteness]:
    """Over many clusters an hour is known only where every cluster's is, its scrapes added up."""
    if len(knowns) == 1:
        return dict(next(iter(knowns.values())))
    hours = set.intersection(*(set(known) for known in knowns.values()))
    names = HourCompleteness.names()
    return {hour: HourCompleteness(**{name: sum(getattr(known[hour], name) for known in knowns.values())
                                      for name in names}) for hour in hours}  # fmt: skip


def run_record(request: ReportRequest, queries: QuerySet) -> ReportRun:
    """The audit row a run starts with: what was asked, with which queries and mappings."""
    snapshot, snapshot_sha = mappings_snapshot(request.mappings)
    return ReportRun(
        cluster=request.cluster,
        source=request.source,
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
        runner=request.runner,
    )


def record_failure(repository: Repository, request: ReportRequest, queries: QuerySet, error: KubechargeError) -> None:
    """A run that failed before collecting (its clusters could not be looked up) is in the audit trail too."""
    run_id = repository.start_run(run_record(request, queries))
    repository.finish_run(run_id, "failed", str(error), {}, hours_queried=0, hours_replaced=0)


def _hours(chunks: Iterable[tuple[datetime, datetime]]) -> int:
    return sum(round((end - start) / HOUR) for start, end in chunks)


def run_report(
    source: UsageSource | Mapping[str, UsageSource],
    queries: QuerySet,
    repository: Repository,
    request: ReportRequest,
    progress: ChunkProgress | None = None,
) -> ReportResult:
    """Fill the ledger's missing (and re-check) hours of the period, then price and render it from the ledger.

    `source` is one per cluster when the report spans many (each selects its cluster's series)."""
    sources = dict(source) if isinstance(source, Mapping) else {request.cluster: source}
    period, policy = request.period, request.policy
    until = min(period.end, policy.complete_until)
    if until <= period.start:
        raise PeriodNotStarted(
            f"period {period.name} has no complete hour yet: it starts at {tables.iso(period.start)}, and its first "
            f"hour can be reported from {tables.iso(period.start + HOUR + policy.settle)}"
        )
    run_id = repository.start_run(run_record(request, queries))
    hours_queried = hours_replaced = 0
    since = period.start - outlook.HISTORY  # the baselines' and forecasts' history, before the period
    try:
        plans, known_before = {}, {}
        for cluster in sources:
            known_before[cluster] = repository.known_hours(cluster, since, until)
            hours = ledger.hours_to_collect(period.start, until, known_before[cluster], policy)
            plans[cluster] = list(ledger.ranges(hours, request.chunk_hours))
        total, done = sum(_hours(chunks) for chunks in plans.values()), 0  # progress in hours: chunks adapt
        collected_at = datetime.now(UTC)

        def store(cluster: str, chunks: list[tuple[datetime, datetime]]) -> None:
            nonlocal hours_queried, hours_replaced, done
            for chunk in collect_chunks(sources[cluster], chunks, request.concurrency):
                hours_queried += len(chunk.completeness)
                hours_replaced += repository.store_chunk(cluster, request.source, chunk.completeness,
                                                         rollup.namespace_hours(chunk), collected_at,
                                                         rollup.node_hours(chunk))  # fmt: skip
                done += len(chunk.completeness)
                if progress is not None:
                    progress(done, total)

        knowns = {}
        for cluster, chunks in plans.items():
            store(cluster, chunks)  # the period's own hours first: a Prometheus that is down fails the run here
            held = held_history(sources[cluster], since, period.start, known_before[cluster], policy)
            earlier = list(ledger.ranges(held, request.chunk_hours))
            total += _hours(earlier)
            store(cluster, earlier)
            knowns[cluster] = repository.known_hours(cluster, since, until)
            check_observed({hour: seen for hour, seen in knowns[cluster].items() if hour >= period.start},
                           period.start, until, cluster if len(sources) > 1 else None)  # fmt: skip
        known_hours = combined(knowns)
        completeness = ledger.completeness(period.start, period.end, until, known_hours)
        before = previous_period(period)  # read from the ledger once, with the history it mostly overlaps
        first = min(since, before.start) if before is not None else since
        by_node = request.report.full_cost is not None  # direct charges do not depend on the node
        loaded = [row for cluster in sources for row in repository.load_hours(cluster, first, until, by_node)]
        # Each hour attributed, and each node-hour priced, once: for the period, its days, the one before, the history.
        attributed = attribute.attribute(loaded, request.mappings)
        node_costs = node_costs_of(request, stored_nodes(repository, request, sources, first, until))
        stored_rows = [row for row in loaded if row.hour_start >= period.start]
        chargeback = priced_period(request, attributed, node_costs, completeness)
        notes = [note for found in sources.values() for note in found.usage_notes()]
        chargeback = dataclasses.replace(
            chargeback, unmeasured=unmeasured(stored_rows, known_hours, notes),
            previous_period=previous_total(request, attributed, node_costs),
            outlook=outlook_of(chargeback, request, attributed, node_costs, known_hours, since, until),
        )  # fmt: skip
        newest = max((hour for hour, seen in known_hours.items() if seen.observed), default=None)
        duplicates = duplicate_series_ratio(sources, until)
        overlaps = attribute.conflicts(stored_rows, request.mappings)
        idle_mappings = attribute.unmatched(stored_rows, request.mappings)
        files = render_all(chargeback)
    except Exception as error:
        message = str(error) if isinstance(error, KubechargeError) else f"internal error: {error!r}"
        repository.finish_run(run_id, "failed", message, {}, hours_queried=hours_queried,
                              hours_replaced=hours_replaced)  # fmt: skip
        raise
    repository.finish_run(
        run_id,
        "succeeded",
        "",
        totals_record(chargeback),
        hours_queried=hours_queried,
        hours_replaced=hours_replaced,
        completeness=tables.completeness_record(completeness),
    )
    return ReportResult(
        chargeback,
        files,
        run_id,
        hours_queried,
        hours_replaced,
        overlaps,
        idle_mappings,
        newest,
        duplicates,
        sorted({note.message for note in notes}),
    )
