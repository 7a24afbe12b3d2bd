"""UsageReport reconciliation: plan the periods, run the pipeline for each, publish, and tell the truth in status.

The handler is thin: the schedule decides which periods, the pipeline computes them, `kube.configmaps`
writes them; this module turns outcomes into status, Events and self-metrics. Blocking work runs in a thread.
A failure leaves the previous ConfigMap untouched, says Failed with the reason, posts an Event and asks kopf to
retry with a growing delay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import kopf

from kubecharge import schedule
from kubecharge.domain import resource_table
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.notices import notices_of
from kubecharge.domain.periods import HOUR, iso
from kubecharge.domain.reports import ObjectStorageOutput, UsageReportSpec
from kubecharge.errors import KubechargeError, LeaseLost, NoUsageData, PeriodNotStarted
from kubecharge.handlers.messages import send_messages
from kubecharge.handlers.periods import PeriodOutcome, run_period
from kubecharge.handlers.state import OperatorState
from kubecharge.handlers.status import (
    RunFacts,
    condition,
    report_status,
)
from kubecharge.kube.annotations import annotate_workloads, annotation_values
from kubecharge.manifests import (
    notification_problems,
    report_name_problem,
    schema_errors,
    team_mapping_from_object,
    usage_report_from_object,
)
from kubecharge.settings import Settings

RESTATE_ANNOTATION = "kubecharge.io/restate"


def valid_mappings(bodies: list[Mapping[str, Any]]) -> list[TeamMapping]:
    """The TeamMappings that satisfy the schema; an invalid one is reported on itself, never breaks reports."""
    return [team_mapping_from_object(body) for body in bodies if not schema_errors("TeamMapping", body)]


def _record_restatements(
    body: kopf.Body,
    patch: kopf.Patch,
    state: OperatorState,
    spec: UsageReportSpec,
    status: Mapping[str, Any],
    outcomes: list[PeriodOutcome],
    now: datetime,
) -> None:
    """A final that changed: in status, as a self-metric and as an Event."""
    fresh = []
    for outcome in outcomes:
        export = outcome.export
        if export is None or export.drift is None or outcome.result is None:
            continue
        delta = export.drift.total_delta
        period = outcome.run.period.name
        fresh.append({"period": period, "version": export.version, "restates": export.reason, "costDelta": delta,
                      "teams": {team: moved.cost_delta for team, moved in export.drift.teams.items()},
                      "time": iso(now)})  # fmt: skip
        state.metrics.finalization_drift_cost.labels(spec.namespace, spec.name, period).set(delta)
        kopf.warn(body, reason="ReportRestated",
                  message=f"{period}: {export.version} {export.reason}; cost changed by {delta:+.6f} "
                          f"{outcome.result.chargeback.currency}")  # fmt: skip
    if fresh:
        patch.status["restatements"] = [*(status.get("restatements") or []), *fresh][-20:]


def _record_outlook(state: OperatorState, spec: UsageReportSpec, outcomes: list[PeriodOutcome], now: datetime) -> None:
    """Cost per team and period, and the current period's budget use, anomalies and pipeline SLIs, as
    self-metrics (what the chart's Grafana dashboard draws)."""
    metrics, labels = state.metrics, (spec.namespace, spec.name)
    for outcome in outcomes:
        if outcome.result is None:
            continue
        chargeback, period = outcome.result.chargeback, outcome.run.period.name
        for summary_of in chargeback.teams():
            metrics.team_cost.labels(*labels, period, summary_of.team).set(summary_of.total_allocated)
            for resource in resource_table.RESOURCES:
                metrics.team_resource_cost.labels(*labels, period, summary_of.team, resource.key).set(
                    summary_of.costs.of(resource.key)
                )
        totals = chargeback.total_quantities
        for resource in resource_table.RESOURCES:
            requested = float(getattr(totals, f"{resource.quantity}_request", 0.0))
            if (
                resource.scope is resource_table.Scope.CONTAINER
                and requested
                and resource.key not in chargeback.unmeasured
            ):
                used = float(getattr(totals, f"{resource.quantity}_usage"))
                metrics.resource_used_ratio.labels(*labels, period, resource.key).set(used / requested)
        for team, found in chargeback.outlook.forecasts.items() if chargeback.outlook else ():
            metrics.team_cost_forecast.labels(*labels, period, team).set(found.cost)
    current = outcomes[-1].result if outcomes else None
    if current is None:
        return
    for team, saving in current.chargeback.recommended_savings().items():
        metrics.recommended_saving.labels(*labels, team).set(saving)
    outlook = current.chargeback.outlook
    for use in outlook.budgets if outlook else ():
        if use.used_ratio is not None:
            metrics.budget_used_ratio.labels(*labels, use.team).set(use.used_ratio)
        if use.forecast_ratio is not None:
            metrics.budget_forecast_ratio.labels(*labels, use.team).set(use.forecast_ratio)
    metrics.cost_anomalies.labels(*labels).set(len(outlook.anomalies) if outlook else 0)
    metrics.cost_anomalies_raised_total.labels(*labels)  # shown from 0, before the first anomaly is raised
    if current.newest_hour is not None:
        latency = (now - (current.newest_hour + HOUR)).total_seconds()
        metrics.ingest_latency_seconds.labels(*labels).set(max(latency, 0.0))
    if current.duplicate_series_ratio is not None:
        metrics.duplicate_series_ratio.labels(*labels).set(current.duplicate_series_ratio)


async def _raise_notices(
    body: kopf.Body, state: OperatorState, spec: UsageReportSpec, outcomes: list[PeriodOutcome], logger: Any
) -> None:
    """Budget and anomaly Events, each raised once ever: the ledger's `notices` decides which are new. A notice
    the database cannot record now is not raised now; the next run raises it."""
    found = [notice for outcome in outcomes if outcome.result is not None
             for notice in notices_of(outcome.result.chargeback)]  # fmt: skip
    if not found:
        return
    try:
        claimed = set(await asyncio.to_thread(state.repository.claim_notices, f"{spec.namespace}/{spec.name}",
                                              [notice.key for notice in found]))  # fmt: skip
    except KubechargeError as error:
        logger.warning(f"budget and anomaly Events wait for the next run: {error}")
        return
    for notice in found:
        if notice.key not in claimed:
            continue
        (kopf.warn if notice.warning else kopf.info)(body, reason=notice.reason, message=notice.message)
        if notice.reason == "CostAnomaly":
            state.metrics.cost_anomalies_raised_total.labels(spec.namespace, spec.name).inc()


def _backoff(state: OperatorState, uid: str) -> float:
    """The delay before a failed report runs again, doubling per failure up to the settings' maximum.

    Counted here, per report, rather than by kopf's `retry`: kopf counts retries per handler, and a report runs
    from two (its timer and its spec-change handler), which must back off as one."""
    failures = state.failures.get(uid, 0) + 1
    state.failures[uid] = failures
    delay = state.settings.retry_delay_seconds * 2 ** (failures - 1)
    return float(min(delay, state.settings.retry_max_delay_seconds))


def admission_problem(body: Mapping[str, Any], settings: Settings) -> tuple[str, str] | None:
    """Why this operator will not run a UsageReport as written, as (reason, message), before any work.

    The API server enforces the schema; this also guards against one that does not, and adds what a schema
    cannot say: names fit for labels and object keys, and inputs this operator's settings do not allow."""
    problems = schema_errors("UsageReport", body)
    if problems:
        return "InvalidSpec", "spec breaks the CRD schema: " + "; ".join(problems)
    problem = report_name_problem(body)
    if problem:
        return "InvalidName", f"{problem}; recreate the report under such a name"
    problems = notification_problems(body)
    if problems:
        return "InvalidSpec", "; ".join(problems)
    spec = body.get("spec") or {}
    url = str((spec.get("prometheus") or {}).get("url") or "")
    candidate = url if url.endswith("/") else url + "/"  # `http://p:9090` is under the prefix `http://p:9090/`
    if url and not any(candidate.startswith(prefix) for prefix in settings.prometheus_url_allowed_prefixes):
        return "PrometheusUrlNotAllowed", (
            f"spec.prometheus.url {summary(url, 120)} is not allowed by this operator: remove it to use the "
            "operator's own Prometheus, or ask the platform team to add its prefix to the chart value "
            "prometheus.allowedReportUrlPrefixes"
        )
    storage = ((spec.get("outputs") or {}).get("objectStorage") or {}).get("url", "")
    if storage.startswith("file:"):
        return "ObjectStorageNotAllowed", (
            "spec.outputs.objectStorage.url may not be a file:// URL in a UsageReport (it would write into the "
            "operator's own volumes); use s3://bucket/prefix, or leave it out to use the operator's default"
        )
    return None


def summary(text: str, limit: int = 400) -> str:
    """One line of at most `limit` characters: what goes into status and Events, never a whole body."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failure_of(error: BaseException) -> tuple[str, str]:
    """(reason, message) for status and Events: a user's error as it says, anything else summarised."""
    if isinstance(error, KubechargeError):
        return type(error).__name__, summary(str(error))
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return "FileSystemError", summary(f"{error.strerror or type(error).__name__}{where}; retrying")
    return "InternalError", f"internal error ({type(error).__name__}); the operator's log has the details; retrying"


def _fail(body: kopf.Body, patch: kopf.Patch, state: OperatorState, failure: tuple[str, str], facts: RunFacts,
          outcomes: Sequence[PeriodOutcome] = ()) -> None:  # fmt: skip
    patch.status.update(report_status(dict(body.get("status") or {}), facts, outcomes, failure))
    reason, message = failure
    kopf.warn(body, reason="ReportFailed", message=f"{reason}: {message}")


def _facts(body: kopf.Body, state: OperatorState, now: datetime, elapsed: float) -> RunFacts:
    return RunFacts(now, elapsed, state.identity, body["metadata"].get("generation"))


async def reconcile_report(
    body: kopf.Body, patch: kopf.Patch, state: OperatorState, mapping_bodies: list[Mapping[str, Any]], logger: Any
) -> None:
    """Run the planned periods of one UsageReport and write its status into `patch`."""
    meta = body["metadata"]
    uid = meta["uid"]
    lock = state.locks.setdefault(uid, asyncio.Lock())
    async with lock:
        now = state.clock()
        refused = admission_problem(body, state.settings)
        if refused is not None:
            reason, message = refused
            previous = dict(body.get("status") or {})
            said = (previous.get("conditions") or [{}])[0]
            if previous.get("observedGeneration") == meta.get("generation") and said.get("reason") == reason:
                return  # already in status and an Event; the report waits for its spec (or name) to change
            _fail(body, patch, state, refused, _facts(body, state, now, 0.0))
            raise kopf.PermanentError(message)
        spec = usage_report_from_object(body)
        if spec.object_storage is None and state.settings.default_object_storage_url:
            spec = dataclasses.replace(
                spec, object_storage=ObjectStorageOutput(state.settings.default_object_storage_url)
            )
        status = dict(body.get("status") or {})
        if spec.suspend:
            patch.status["conditions"] = condition(False, "Suspended", "spec.suspend is true", now)
            patch.status["observedGeneration"] = meta.get("generation")
            return
        lease = f"usagereport/{uid}"
        try:
            holder = await asyncio.to_thread(state.repository.take_lease, lease, state.identity,
                                             state.settings.run_lease_seconds)  # fmt: skip
        except KubechargeError as error:  # the database is down: say so, and retry
            failure = failure_of(error)
            _fail(body, patch, state, failure, _facts(body, state, now, 0.0))
            raise kopf.TemporaryError(failure[1], delay=_backoff(state, uid)) from None
        if holder is not None:  # peering paused us too late, or another replica's run overlaps: never both
            logger.info(f"{spec.namespace}/{spec.name} is being run by {holder}; trying again later")
            raise kopf.TemporaryError(f"being run by {holder}", delay=state.settings.retry_delay_seconds)
        try:
            await _run_periods(body, patch, state, spec, status, mapping_bodies, logger, lease, now)
        finally:
            try:
                await asyncio.to_thread(state.repository.release_lease, lease, state.identity)
            except KubechargeError as error:  # it expires on its own; the run's own outcome is what counts
                logger.warning(f"could not release the run lease ({error}); it expires by itself")


async def _run_periods(
    body: kopf.Body, patch: kopf.Patch, state: OperatorState, spec: UsageReportSpec, status: dict[str, Any],
    mapping_bodies: list[Mapping[str, Any]], logger: Any, lease: str, now: datetime,
) -> None:  # fmt: skip
    """Run the planned periods, then say so: status from `report_status`, Events, self-metrics."""
    meta = body["metadata"]
    finalized = list(status.get("finalizedPeriods") or [])
    restate = (meta.get("annotations") or {}).get(RESTATE_ANNOTATION)
    began = time.perf_counter()
    outcomes: list[PeriodOutcome] = []
    try:
        await _compute(state, body, spec, valid_mappings(mapping_bodies), schedule.plan(spec, now, finalized, restate),
                       lease, now, outcomes)  # fmt: skip
    except Exception as error:
        failure = failure_of(error)
        if not isinstance(error, KubechargeError):
            logger.exception(f"report run failed unexpectedly ({type(error).__name__})")
        state.metrics.run_failures_total.labels(spec.namespace, spec.name, failure[0]).inc()
        delay = _backoff(state, meta["uid"])
        _fail(body, patch, state, failure, _facts(body, state, now, time.perf_counter() - began), outcomes)
        logger.error(f"report run failed ({failure[0]}), retrying in {delay:.0f}s: {failure[1]}")
        await _tell(patch, state, spec, mapping_bodies, outcomes, logger)  # the periods published before it failed
        raise kopf.TemporaryError(failure[1], delay=delay) from None
    elapsed = time.perf_counter() - began
    state.failures.pop(meta["uid"], None)
    found = [outcome.result for outcome in outcomes if outcome.result is not None]
    if found:
        state.unexported_pod_labels[meta["uid"]] = found[-1].unexported_pod_labels
    patch.status.update(report_status(status, _facts(body, state, now, elapsed), outcomes))
    if restate is not None:
        patch.metadata.annotations[RESTATE_ANNOTATION] = None  # done: a new request needs a new annotation
        if restate not in finalized:
            known = ", ".join(finalized) or "none"
            message = f"{restate} is not a finalized period of this report ({known}); nothing restated"
            kopf.warn(body, reason="RestateIgnored", message=message)
    _record_restatements(body, patch, state, spec, status, outcomes, now)
    _record_run(state, spec, outcomes, elapsed)
    _record_outlook(state, spec, outcomes, now)
    await _raise_notices(body, state, spec, outcomes, logger)
    await _annotate(body, state, spec, outcomes, logger)
    _post_events(body, outcomes)
    await _tell(patch, state, spec, mapping_bodies, outcomes, logger)


async def _tell(patch: kopf.Patch, state: OperatorState, spec: UsageReportSpec,
                mapping_bodies: list[Mapping[str, Any]], outcomes: list[PeriodOutcome],
                logger: Any) -> None:  # fmt: skip
    """Showback messages of the periods this run published, also when a later period failed: a final is
    published once, so its messages must go with the run that published it."""
    told: dict[str, Any] = {}
    await send_messages(state, spec, valid_mappings(mapping_bodies), outcomes, told, logger)
    patch.status.update(told)


async def _annotate(body: kopf.Body, state: OperatorState, spec: UsageReportSpec, outcomes: list[PeriodOutcome],
                    logger: Any) -> None:  # fmt: skip
    """With `spec.recommendations.annotate`, the current period's recommendations onto this cluster's workloads.
    A refusal is a warning Event and a log line; the report itself stands."""
    current = outcomes[-1].result if outcomes else None
    if current is None or spec.recommendations is None or not spec.recommendations.annotate:
        return
    chargeback = current.chargeback
    if chargeback.recommendation_window is None:
        return
    own = state.settings.cluster_name if len(chargeback.clusters) > 1 else chargeback.cluster
    start, end = chargeback.recommendation_window
    values = annotation_values([r for r in chargeback.recommendations if (r.cluster or chargeback.cluster) == own],
                               f"{iso(start)}/{iso(end)}")  # fmt: skip
    try:
        done = await asyncio.to_thread(annotate_workloads, state.kube, values)
    except KubechargeError as error:
        logger.warning(f"workload annotations not written: {error}")
        kopf.warn(body, reason="AnnotationsNotWritten", message=summary(str(error)))
        return
    logger.info(f"recommendation annotations: {done.written} written, {done.unchanged} unchanged, "
                f"{done.gone} workloads gone")  # fmt: skip


async def _compute(state: OperatorState, body: kopf.Body, spec: UsageReportSpec, mappings: list[TeamMapping],
                   runs: Iterable[schedule.PlannedRun], lease: str, now: datetime,
                   outcomes: list[PeriodOutcome]) -> None:  # fmt: skip
    """Each planned period in turn, appended to `outcomes` as it finishes (a failure keeps those before it)."""

    def renew() -> None:
        holder = state.repository.take_lease(lease, state.identity, state.settings.run_lease_seconds)
        if holder is not None:
            raise LeaseLost(f"the run lease of this report passed to {holder} while this replica ran it; "
                            "that replica carries on")  # fmt: skip

    for run in runs:
        try:
            outcomes.append(await asyncio.to_thread(run_period, state, body, spec, mappings, run, renew))
        except PeriodNotStarted:
            outcomes.append(PeriodOutcome(run, None, waiting=True))
        except NoUsageData:
            if run.period.contains(now):  # the current period must have data: the setup is wrong
                raise
            # An earlier period without any data (the cluster or its monitoring is newer): nothing to charge, and
            # its empty hours are in the ledger, so asking again costs nothing.
            outcomes.append(PeriodOutcome(run, None, no_data=True))


def _record_run(state: OperatorState, spec: UsageReportSpec, outcomes: list[PeriodOutcome], elapsed: float) -> None:
    """The run's self-metrics: duration, last success, and the current period's coverage and completeness."""
    metrics, labels = state.metrics, (spec.namespace, spec.name)
    metrics.run_duration_seconds.labels(*labels).observe(elapsed)
    metrics.last_success_timestamp_seconds.labels(*labels).set(time.time())
    current = outcomes[-1].result
    if current is None:
        return
    chargeback = current.chargeback
    metrics.attribution_coverage_ratio.labels(*labels).set(chargeback.coverage)
    metrics.unallocated_cpu_core_hours.labels(*labels).set(chargeback.unallocated_cpu_core_hours)
    seen = chargeback.completeness
    if seen is not None and seen.hours_elapsed:
        metrics.data_completeness_ratio.labels(*labels).set(seen.hours_collected / seen.hours_elapsed)


def _post_events(body: kopf.Body, outcomes: list[PeriodOutcome]) -> None:
    """One Event per period computed, and a warning for a final with gaps or a namespace claimed twice."""
    for outcome in outcomes:
        if outcome.result is None:
            continue
        chargeback, name = outcome.result.chargeback, outcome.run.period.name
        kopf.info(body, reason="ReportFinished",
                  message=f"{name} ({outcome.run.state}): {chargeback.total_costs.total:.2f} "
                          f"{chargeback.currency}, coverage {100 * chargeback.coverage:.1f}%")  # fmt: skip
        data = chargeback.completeness
        if outcome.run.final and data is not None and not data.complete:
            kopf.warn(body, reason="FinalizedWithGaps", message=f"{name} was finalized with {data.describe()}")
        for namespace, names in sorted(outcome.result.mapping_conflicts.items()):
            message = f"{name}: namespace {namespace} is claimed by {', '.join(names)}; {names[0]} wins"
            kopf.warn(body, reason="MappingConflict", message=message)
