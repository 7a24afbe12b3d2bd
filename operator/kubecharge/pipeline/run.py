"""One run: collect the hours the ledger lacks → roll up → store → attribute → price → allocate → outlook.

The database is the ledger: a run asks Prometheus only for the complete hours the ledger lacks plus a bounded
re-check window, stores each chunk of hours in one transaction as it arrives (an emptier answer never replaces a
stored hour), and then prices the whole period from the ledger. A failure at any step leaves every hour either as
it was or newly and wholly collected and records the run as failed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubecharge import __version__, attribute, outlook, rollup
from kubecharge.collect.chunks import collect_chunks
from kubecharge.collect.promql import QuerySet
from kubecharge.collect.source import UsageSource
from kubecharge.domain import ledger
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.collected import UsageNote
from kubecharge.domain.ledger import NOTHING_OBSERVED as NO_HOUR
from kubecharge.domain.ledger import CollectionPolicy, Completeness, HourCompleteness
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.periods import HOUR, iso
from kubecharge.domain.usage import NamespaceHour
from kubecharge.errors import KubechargeError, NoUsageData, PeriodNotStarted, SourceError
from kubecharge.pipeline import recommended
from kubecharge.pipeline.outputs import totals_record
from kubecharge.pipeline.priced import node_costs_of, outlook_of, previous_period, previous_total, priced_period
from kubecharge.pipeline.request import ReportRequest, mappings_snapshot
from kubecharge.render import data_files
from kubecharge.store.repository import Repository
from kubecharge.store.tables import ReportRun

ChunkProgress = Callable[[int, int], None]


@dataclass
class ReportResult:
    chargeback: Chargeback
    run_id: int
    hours_queried: int  # hours asked from Prometheus; the rest came from the ledger
    hours_replaced: int  # hours written to the ledger by this run
    mapping_conflicts: dict[str, list[str]] = field(default_factory=dict)
    unmatched_mappings: list[str] = field(default_factory=list)  # TeamMappings that claimed no namespace
    newest_hour: datetime | None = None  # the newest hour with data in the ledger (ingest latency)
    duplicate_series_ratio: float | None = None  # copies of pod series collapsed in the last hour (an SLI)
    notes: list[str] = field(default_factory=list)  # what the source found about measuring usage, for the user
    # TeamMappings whose podSelector keys no kube_pod_labels series carried in the period: mapping → keys
    unexported_pod_labels: dict[str, list[str]] = field(default_factory=dict)


def check_observed(
    known: Mapping[datetime, HourCompleteness], start: datetime, end: datetime, cluster: str | None = None
) -> None:
    """Stop when the period has no data at all, or one of the two scrape jobs is missing from every hour:
    memory, storage and request figures would otherwise silently be zero."""
    when = f"between {iso(start)} and {iso(end)}" + (f" for cluster {cluster}" if cluster else "")
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


@dataclass(frozen=True)
class LedgerPriced:
    """A period priced from the ledger alone, with what was known of its hours and the period's stored rows."""

    chargeback: Chargeback
    known_hours: dict[datetime, HourCompleteness]
    stored_rows: list[NamespaceHour]
    completeness: Completeness


def ledger_chargeback(repository: Repository, request: ReportRequest, uses: Mapping[str, recommended.UseSource],
                      knowns: Mapping[str, Mapping[datetime, HourCompleteness]], until: datetime,
                      notes: Sequence[UsageNote] = ()) -> LedgerPriced:  # fmt: skip
    """The period priced from what the ledger holds of `knowns`' clusters: every caller's path from the ledger to a
    chargeback (a report after collecting, the portal without asking Prometheus anything). `uses` answers each
    cluster's container use for recommendations (its Prometheus, or the days the ledger kept)."""
    period = request.period
    since = period.start - outlook.HISTORY  # the baselines' and forecasts' history, before the period
    clusters = list(knowns)
    known_hours = combined(knowns)
    completeness = ledger.completeness(period.start, period.end, until, known_hours)
    before = previous_period(period)  # read from the ledger once, with the history it mostly overlaps
    first = min(since, before.start) if before is not None else since
    # Full cost prices every hour at its nodes' prices: the hours by node and workload. Direct charges read
    # namespace totals per hour (forecasts, anomalies, the period before, what was measured) and the period's
    # workloads per day: a month at workload grain is a few thousand rows, not hundreds of thousands.
    full_cost = request.report.full_cost is not None
    loaded = [row for cluster in clusters for row in repository.load_hours(cluster, first, until, full_cost)]
    # Each hour attributed, and each node-hour priced, once: for the period, its days, the one before, the history.
    attributed = attribute.attribute(loaded, request.mappings)
    node_costs = node_costs_of(request, stored_nodes(repository, request, clusters, first, until))
    stored_rows = [row for row in loaded if row.hour_start >= period.start]
    period_rows = attributed if full_cost else attribute.attribute(
        [row for cluster in clusters for row in repository.load_workload_days(cluster, period.start, until)],
        request.mappings)  # fmt: skip
    chargeback = priced_period(request, period_rows, node_costs, completeness)
    chargeback = dataclasses.replace(
        chargeback, unmeasured=unmeasured(stored_rows, known_hours, notes),
        previous_period=previous_total(request, attributed, node_costs),
        outlook=outlook_of(chargeback, request, attributed, node_costs, known_hours, since, until),
    )  # fmt: skip
    advice = request.report.recommendations
    if advice is not None:
        first_day, last_day = recommended.window(advice, period, until)
        chargeback = dataclasses.replace(
            chargeback, recommendation_window=(first_day, last_day),
            recommendations=recommended.recommendations(chargeback, advice, request.report.pricing, uses,
                                                        first_day, last_day, repository),
        )  # fmt: skip
    return LedgerPriced(chargeback, known_hours, stored_rows, completeness)


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
            f"period {period.name} has no complete hour yet: it starts at {iso(period.start)}, and its first "
            f"hour can be reported from {iso(period.start + HOUR + policy.settle)}"
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
                                                         rollup.hour_table(chunk), collected_at,
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
        notes = [note for found in sources.values() for note in found.usage_notes()]
        priced = ledger_chargeback(repository, request, sources, knowns, until, notes)
        chargeback, known_hours, stored_rows = priced.chargeback, priced.known_hours, priced.stored_rows
        newest = max((hour for hour, seen in known_hours.items() if seen.observed), default=None)
        duplicates = duplicate_series_ratio(sources, until)
        overlaps = attribute.conflicts(stored_rows, request.mappings)
        idle_mappings = attribute.unmatched(stored_rows, request.mappings)
        unexported = attribute.unexported_pod_labels(stored_rows, request.mappings)
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
        completeness=data_files.completeness_record(priced.completeness),
    )
    return ReportResult(
        chargeback,
        run_id,
        hours_queried,
        hours_replaced,
        overlaps,
        idle_mappings,
        newest,
        duplicates,
        sorted({note.message for note in notes}),
        unexported,
    )
