"""UsageReport reconciliation: plan the periods, run the pipeline for each, publish, and tell the truth in status.

The handler is thin: the schedule decides which periods, the pipeline computes them, `kube.configmaps`
writes them; this module turns outcomes into status, Events and self-metrics. Blocking work runs in a thread.
A failure leaves the previous ConfigMap untouched, says Failed with the reason, posts an Event and asks kopf to
retry with a growing delay.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import kubernetes

from kubecharge import pipeline, schedule
from kubecharge.collect.prometheus import PrometheusSource
from kubecharge.collect.promql import QuerySet
from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.reports import ObjectStorageOutput, UsageReportSpec
from kubecharge.errors import KubechargeError, NoUsageData
from kubecharge.kube.configmaps import ensure_configmap
from kubecharge.manifests import schema_errors, team_mapping_from_object, usage_report_from_object
from kubecharge.publish.exports import PublishOutcome, period_prefix, publish_export
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.render.configmap import configmap_data
from kubecharge.render.tables import iso
from kubecharge.schedule import PlannedRun
from kubecharge.selfmetrics import OperatorMetrics
from kubecharge.settings import Settings
from kubecharge.store.repository import Repository

Clock = Callable[[], datetime]
FIRST_HOUR_GRACE = timedelta(hours=2)  # a new period has no complete hour yet: not a failure


@dataclass
class OperatorState:
    """What the handlers share, built once at start-up (kopf's `memo`)."""

    settings: Settings
    queries: QuerySet
    repository: Repository
    kube: kubernetes.client.ApiClient
    metrics: OperatorMetrics
    clock: Clock
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


RESTATE_ANNOTATION = "kubecharge.io/restate"


class SecretError(KubechargeError):
    """The object-storage Secret named by spec.outputs.objectStorage.secretRef is missing or incomplete."""


@dataclass(frozen=True)
class PeriodOutcome:
    run: PlannedRun
    result: pipeline.ReportResult | None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    waiting: bool = False  # the period has no complete hour yet
    export: PublishOutcome | None = None


def _now_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": body["metadata"]["name"],
            "uid": body["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def _s3_options(state: OperatorState, spec: UsageReportSpec) -> S3Options:
    """Credentials from the report's Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_ENDPOINT_URL
    and AWS_REGION); without a secretRef, the operator's own environment (e.g. IRSA) and settings."""
    settings = state.settings
    secret_name = spec.object_storage.secret_ref if spec.object_storage else None
    if not secret_name:
        return S3Options(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    core = kubernetes.client.CoreV1Api(state.kube)
    try:
        secret = core.read_namespaced_secret(secret_name, spec.namespace)
    except kubernetes.client.exceptions.ApiException as error:
        raise SecretError(
            f"cannot read Secret {spec.namespace}/{secret_name} for object storage ({error.status} {error.reason}); "
            "create it or fix spec.outputs.objectStorage.secretRef"
        ) from None
    values = {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}
    missing = [key for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key not in values]
    if missing:
        raise SecretError(f"Secret {spec.namespace}/{secret_name} lacks {', '.join(missing)}")
    return S3Options(
        endpoint_url=values.get("AWS_ENDPOINT_URL") or settings.s3_endpoint_url,
        region=values.get("AWS_REGION") or settings.s3_region,
        access_key_id=values["AWS_ACCESS_KEY_ID"],
        secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
    )


def _run_period(
    state: OperatorState, body: Mapping[str, Any], spec: UsageReportSpec, mappings: list[TeamMapping], run: PlannedRun
) -> PeriodOutcome:
    """Blocking: compute one period, publish its export (if configured), then its ConfigMap."""
    settings = state.settings
    source = PrometheusSource(spec.prometheus_url or settings.prometheus_url, state.queries,
                              settings.prometheus_timeout_seconds, settings.prometheus_retries,
                              observer=state.metrics.observe_query)  # fmt: skip
    request = pipeline.ReportRequest(run.period, mappings, spec, settings.cluster_name, settings.query_chunk_hours)
    result = pipeline.run_report(source, state.queries, state.repository, request)
    outputs: list[dict[str, Any]] = []
    export = None
    if spec.object_storage is not None:
        store = open_store(spec.object_storage.url, _s3_options(state, spec))
        export = publish_export(
            store, period_prefix(spec.namespace, spec.name, run.period.name),
            pipeline.export_files(result.chargeback, spec.object_storage.formats), final=run.final,
            manifest_fields=pipeline.manifest_fields(request, result, state.queries),
        )  # fmt: skip
        outputs.append({"kind": "ObjectStorage", "location": f"{export.location}/{export.latest}",
                        "sha256": export.manifest_sha256, "version": export.latest, "period": run.period.name,
                        "state": run.state})  # fmt: skip
    if not spec.config_map.enabled:
        return PeriodOutcome(run, result, outputs, export=export)
    data = configmap_data(result.chargeback, outputs[0]["location"] if outputs else None)
    name = f"{spec.config_map.name or spec.name}-{run.period.name}"
    labels = {"kubecharge.io/report": spec.name, "kubecharge.io/period": run.period.name,
              "kubecharge.io/state": run.state, "app.kubernetes.io/managed-by": "kubecharge"}  # fmt: skip
    _, version = ensure_configmap(state.kube, spec.namespace, name, labels, data, _owner(body))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    outputs.append({"kind": "ConfigMap", "location": f"{spec.namespace}/{name}", "sha256": digest,
                    "version": version, "period": run.period.name, "state": run.state})  # fmt: skip
    return PeriodOutcome(run, result, outputs, export=export)


def _period_entry(outcome: PeriodOutcome, now: datetime) -> dict[str, Any]:
    period = outcome.run.period
    entry: dict[str, Any] = {
        "name": period.name,
        "start": iso(period.start),
        "end": iso(period.end),
        "phase": "Finalized" if outcome.run.final else "Provisional",
        "lastRun": _now_text(now),
    }
    if outcome.result is not None:
        chargeback = outcome.result.chargeback
        entry.update(cost=chargeback.total_costs.total, currency=chargeback.currency, coverage=chargeback.coverage)
    if outcome.waiting:
        entry["phase"] = "Pending"
    return entry


def _merge_periods(previous: list[dict[str, Any]], fresh: list[dict[str, Any]], keep: int = 6) -> list[dict[str, Any]]:
    by_name = {entry["name"]: entry for entry in previous}
    by_name.update({entry["name"]: entry for entry in fresh})
    return [by_name[name] for name in sorted(by_name)][-keep:]


def _condition(ready: bool, reason: str, message: str, now: datetime) -> list[dict[str, str]]:
    return [{"type": "Ready", "status": "True" if ready else "False", "reason": reason, "message": message,
             "lastTransitionTime": _now_text(now)}]  # fmt: skip


def _current_status(outcome: PeriodOutcome) -> dict[str, Any]:
    period = outcome.run.period
    status: dict[str, Any] = {"period": {"name": period.name, "start": iso(period.start), "end": iso(period.end)}}
    if outcome.result is None:
        return status
    chargeback = outcome.result.chargeback
    totals = chargeback.total_quantities
    status.update(
        totals={"cost": chargeback.total_costs.total, "currency": chargeback.currency,
                "cpuCoreHours": chargeback.cpu_core_hours_charged,
                "memoryGiBHours": chargeback.memory_gib_hours_charged,
                "storageGiBHours": totals.storage_gib_hours, "networkGiB": totals.network_gib},
        coverage=chargeback.coverage,
        topTeams=[{"team": t.team, "cost": t.costs.total} for t in chargeback.teams()[:5]],
    )  # fmt: skip
    return status


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
                      "time": _now_text(now)})  # fmt: skip
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
            patch.status.update(phase="Failed", conditions=_condition(False, "InvalidSpec", message, now),
                                observedGeneration=meta.get("generation"),
                                lastRun={"time": _now_text(now), "durationSeconds": 0, "result": "Failed",
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
            patch.status["conditions"] = _condition(False, "Suspended", "spec.suspend is true", now)
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
                    outcomes.append(await asyncio.to_thread(_run_period, state, body, spec, mappings, run))
                except NoUsageData:
                    if run.final or now - run.period.start > FIRST_HOUR_GRACE:
                        raise
                    outcomes.append(PeriodOutcome(run, None, waiting=True))
        except KubechargeError as error:
            elapsed = time.perf_counter() - began
            reason = type(error).__name__
            state.metrics.run_failures_total.labels(spec.namespace, spec.name, reason).inc()
            delay = _backoff(state, uid)
            patch.status.update(
                phase="Failed",
                lastRun={"time": _now_text(now), "durationSeconds": round(elapsed, 3), "result": "Failed",
                         "message": str(error)},
                conditions=_condition(False, reason, str(error), now),
                observedGeneration=meta.get("generation"),
                periods=_merge_periods(status.get("periods") or [], [_period_entry(o, now) for o in outcomes]),
                outputs=_merge_outputs(status.get("outputs") or [], [x for o in outcomes for x in o.outputs]),
            )  # fmt: skip
            if any(o.run.final for o in outcomes):
                patch.status["finalizedPeriods"] = finalized + [o.run.period.name for o in outcomes if o.run.final]
            kopf.warn(body, reason="ReportFailed", message=str(error))
            logger.error(f"report run failed ({reason}), retrying in {delay:.0f}s: {error}")
            raise kopf.TemporaryError(str(error), delay=delay) from None

        elapsed = time.perf_counter() - began
        state.failures.pop(uid, None)
        current = outcomes[-1]
        newly_final = [o.run.period.name for o in outcomes if o.run.final]
        patch.status.update(
            phase="Pending" if current.waiting else "Provisional",
            lastRun={"time": _now_text(now), "durationSeconds": round(elapsed, 3), "result": "Succeeded",
                     "message": "waiting for the period's first complete hour" if current.waiting else ""},
            conditions=_condition(True, "ReportUpToDate", f"{len(outcomes)} period(s) computed", now),
            observedGeneration=meta.get("generation"),
            periods=_merge_periods(status.get("periods") or [], [_period_entry(o, now) for o in outcomes]),
            outputs=_merge_outputs(status.get("outputs") or [], [x for o in outcomes for x in o.outputs]),
            **_current_status(current),
        )  # fmt: skip
        if newly_final:
            patch.status["finalizedPeriods"] = sorted(set(finalized) | set(newly_final))
        if restate is not None:
            patch.metadata.annotations[RESTATE_ANNOTATION] = None  # done: a new request needs a new annotation
        _record_restatements(body, patch, state, spec, status, outcomes, now)
        state.metrics.run_duration_seconds.labels(spec.namespace, spec.name).observe(elapsed)
        state.metrics.last_success_timestamp_seconds.labels(spec.namespace, spec.name).set(time.time())
        if current.result is not None:
            chargeback = current.result.chargeback
            unallocated = sum(line.cpu_core_hours_charged for line in chargeback.lines if line.team == UNALLOCATED)
            state.metrics.attribution_coverage_ratio.labels(spec.namespace, spec.name).set(chargeback.coverage)
            state.metrics.unallocated_cpu_core_hours.labels(spec.namespace, spec.name).set(unallocated)
        for outcome in outcomes:
            if outcome.result is None:
                continue
            chargeback = outcome.result.chargeback
            kopf.info(body, reason="ReportFinished",
                      message=f"{outcome.run.period.name} ({outcome.run.state}): {chargeback.total_costs.total:.2f} "
                              f"{chargeback.currency}, coverage {100 * chargeback.coverage:.1f}%")  # fmt: skip
            for namespace, names in sorted(outcome.result.mapping_conflicts.items()):
                kopf.warn(body, reason="MappingConflict",
                          message=f"{outcome.run.period.name}: namespace {namespace} is claimed by "
                                  f"{', '.join(names)}; {names[0]} wins")  # fmt: skip


def _merge_outputs(previous: list[dict[str, Any]], fresh: list[dict[str, Any]], keep: int = 12) -> list[dict[str, Any]]:
    by_location = {entry["location"]: entry for entry in previous}
    by_location.update({entry["location"]: entry for entry in fresh})
    return [by_location[key] for key in sorted(by_location)][-keep:]
