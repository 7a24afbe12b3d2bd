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
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import kopf

from kubecharge import schedule
from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.reports import ObjectStorageOutput, UsageReportSpec
from kubecharge.errors import KubechargeError, NoUsageData, PeriodNotStarted
from kubecharge.handlers.periods import PeriodOutcome, run_period
from kubecharge.handlers.state import OperatorState
from kubecharge.handlers.status import (
    completeness_condition,
    condition,
    current_status,
    merge_outputs,
    merge_periods,
    now_text,
    period_entry,
)
from kubecharge.manifests import schema_errors, team_mapping_from_object, usage_report_from_object

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
        delta = float(export.drift["total"]["delta"])
        period = outcome.run.period.name
        fresh.append({"period": period, "version": export.version, "restates": export.reason, "costDelta": delta,
                      "teams": {team: change["delta"]["cost"] for team, change in export.drift["teams"].items()},
                      "time": now_text(now)})  # fmt: skip
        state.metrics.finalization_drift_cost.labels(spec.namespace, spec.name, period).set(delta)
        kopf.warn(body, reason="ReportRestated",
                  message=f"{period}: {export.version} {export.reason}; cost changed by {delta:+.6f} "
                          f"{outcome.result.chargeback.currency}")  # fmt: skip
    if fresh:
        patch.status["restatements"] = [*(status.get("restatements") or []), *fresh][-20:]


def _backoff(state: OperatorState, uid: str) -> float:
    failures = state.failures.get(uid, 0) + 1
    state.failures[uid] = failures
    delay = state.settings.retry_delay_seconds * 2 ** (failures - 1)
    return float(min(delay, state.settings.retry_max_delay_seconds))


async def reconcile_report(
    body: kopf.Body, patch: kopf.Patch, state: OperatorState, mapping_bodies: list[Mapping[str, Any]], logger: Any
) -> None:
    """Run the planned periods of one UsageReport and write its status into `patch`."""
    meta = body["metadata"]
    uid = meta["uid"]
    lock = state.locks.setdefault(uid, asyncio.Lock())
    async with lock:
        now = state.clock()
        problems = schema_errors("UsageReport", body)
        if problems:  # the API server enforces the schema; this guards against one that does not
            message = "spec breaks the CRD schema: " + "; ".join(problems)
            patch.status.update(phase="Failed", conditions=condition(False, "InvalidSpec", message, now),
                                observedGeneration=meta.get("generation"),
                                lastRun={"time": now_text(now), "durationSeconds": 0, "result": "Failed",
                                         "message": message})  # fmt: skip
            kopf.warn(body, reason="ReportFailed", message=message)
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
        mappings = valid_mappings(mapping_bodies)
        finalized = list(status.get("finalizedPeriods") or [])
        restate = (meta.get("annotations") or {}).get(RESTATE_ANNOTATION)
        began = time.perf_counter()
        outcomes: list[PeriodOutcome] = []
        try:
            for run in schedule.plan(spec, now, finalized, restate):
                try:
                    outcomes.append(await asyncio.to_thread(run_period, state, body, spec, mappings, run))
                except PeriodNotStarted:
                    outcomes.append(PeriodOutcome(run, None, waiting=True))
                except NoUsageData:
                    if run.period.contains(now):  # the current period must have data: the setup is wrong
                        raise
                    # An earlier period without any data (the cluster or its monitoring is newer): nothing
                    # to charge, and its empty hours are in the ledger, so asking again costs nothing.
                    outcomes.append(PeriodOutcome(run, None, no_data=True))
        except KubechargeError as error:
            elapsed = time.perf_counter() - began
            reason = type(error).__name__
            state.metrics.run_failures_total.labels(spec.namespace, spec.name, reason).inc()
            delay = _backoff(state, uid)
            patch.status.update(
                phase="Failed",
                lastRun={"time": now_text(now), "durationSeconds": round(elapsed, 3), "result": "Failed",
                         "message": str(error)},
                conditions=condition(False, reason, str(error), now, status.get("conditions")),
                observedGeneration=meta.get("generation"),
                periods=merge_periods(status.get("periods") or [], [period_entry(o, now) for o in outcomes]),
                outputs=merge_outputs(status.get("outputs") or [], [x for o in outcomes for x in o.outputs]),
            )  # fmt: skip
            if any(o.run.final for o in outcomes):
                patch.status["finalizedPeriods"] = sorted(set(finalized) | {o.run.period.name for o in outcomes
                                                                              if o.run.final})  # fmt: skip
            kopf.warn(body, reason="ReportFailed", message=str(error))
            logger.error(f"report run failed ({reason}), retrying in {delay:.0f}s: {error}")
            raise kopf.TemporaryError(str(error), delay=delay) from None

        elapsed = time.perf_counter() - began
        state.failures.pop(uid, None)
        current = outcomes[-1]
        periods = merge_periods(status.get("periods") or [], [period_entry(o, now) for o in outcomes])
        newly_final = [o.run.period.name for o in outcomes if o.run.final]
        patch.status.update(
            phase="Pending" if current.waiting else "Provisional",
            lastRun={"time": now_text(now), "durationSeconds": round(elapsed, 3), "result": "Succeeded",
                     "message": "waiting for the period's first complete hour" if current.waiting else ""},
            conditions=[*condition(True, "ReportUpToDate", f"{len(outcomes)} period(s) computed", now,
                                   status.get("conditions")),
                        completeness_condition(periods, now, status.get("conditions"))],
            observedGeneration=meta.get("generation"),
            periods=periods,
            outputs=merge_outputs(status.get("outputs") or [], [x for o in outcomes for x in o.outputs]),
            **current_status(current),
        )  # fmt: skip
        if newly_final:
            patch.status["finalizedPeriods"] = sorted(set(finalized) | set(newly_final))
        if restate is not None:
            patch.metadata.annotations[RESTATE_ANNOTATION] = None  # done: a new request needs a new annotation
            if restate not in finalized:
                known = ", ".join(finalized) or "none"
                kopf.warn(
                    body,
                    reason="RestateIgnored",
                    message=f"{restate} is not a finalized period of this report ({known}); nothing restated",
                )
        _record_restatements(body, patch, state, spec, status, outcomes, now)
        state.metrics.run_duration_seconds.labels(spec.namespace, spec.name).observe(elapsed)
        state.metrics.last_success_timestamp_seconds.labels(spec.namespace, spec.name).set(time.time())
        if current.result is not None:
            chargeback = current.result.chargeback
            unallocated = sum(line.cpu_core_hours_charged for line in chargeback.lines if line.team == UNALLOCATED)
            state.metrics.attribution_coverage_ratio.labels(spec.namespace, spec.name).set(chargeback.coverage)
            state.metrics.unallocated_cpu_core_hours.labels(spec.namespace, spec.name).set(unallocated)
            current_data = chargeback.completeness
            if current_data is not None and current_data.hours_elapsed:
                ratio = current_data.hours_collected / current_data.hours_elapsed
                state.metrics.data_completeness_ratio.labels(spec.namespace, spec.name).set(ratio)
        for outcome in outcomes:
            if outcome.result is None:
                continue
            chargeback = outcome.result.chargeback
            kopf.info(body, reason="ReportFinished",
                      message=f"{outcome.run.period.name} ({outcome.run.state}): {chargeback.total_costs.total:.2f} "
                              f"{chargeback.currency}, coverage {100 * chargeback.coverage:.1f}%")  # fmt: skip
            data = chargeback.completeness
            if outcome.run.final and data is not None and not data.complete:
                kopf.warn(body, reason="FinalizedWithGaps",
                          message=f"{outcome.run.period.name} was finalized with {data.describe()}")  # fmt: skip
            for namespace, names in sorted(outcome.result.mapping_conflicts.items()):
                kopf.warn(body, reason="MappingConflict",
                          message=f"{outcome.run.period.name}: namespace {namespace} is claimed by "
                                  f"{', '.join(names)}; {names[0]} wins")  # fmt: skip
