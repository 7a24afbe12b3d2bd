"""One period of one UsageReport, computed and published (blocking: runs in a worker thread).

Order matters: the export first, then the ConfigMap, so the ConfigMap can point at the export when its data does
not fit; a failure at any step raises before anything else of that period is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kubernetes

from kubecharge import pipeline
from kubecharge.collect.clusters import cluster_sources
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.reports import DEFAULT_RETENTION, UsageReportSpec
from kubecharge.errors import KubechargeError, SourceError
from kubecharge.handlers.state import OperatorState
from kubecharge.kube.configmaps import ensure_configmap
from kubecharge.publish.exports import PublishOutcome, period_prefix, publish_export
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.render.configmap import configmap_data
from kubecharge.schedule import PlannedRun

SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION")


class SecretError(KubechargeError):
    """The object-storage Secret named by spec.outputs.objectStorage.secretRef is missing or incomplete."""


@dataclass(frozen=True)
class PeriodOutcome:
    run: PlannedRun
    result: pipeline.ReportResult | None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    waiting: bool = False  # the period has no complete hour yet
    no_data: bool = False  # an earlier period for which neither Prometheus nor the ledger has any data
    export: PublishOutcome | None = None


def _owner(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": body["metadata"]["name"],
            "uid": body["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def s3_options(state: OperatorState, spec: UsageReportSpec) -> S3Options:
    """Credentials from the report's Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_ENDPOINT_URL
    and AWS_REGION); without a secretRef, the operator's own environment (e.g. IRSA) and settings."""
    settings = state.settings
    secret_name = spec.object_storage.secret_ref if spec.object_storage else None
    retention = spec.object_storage.retention if spec.object_storage else DEFAULT_RETENTION
    if not secret_name:
        return S3Options(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region, retention=retention)
    core = kubernetes.client.CoreV1Api(state.kube)
    try:
        secret = core.read_namespaced_secret(secret_name, spec.namespace)
    except kubernetes.client.exceptions.ApiException as error:
        hint = ("the operator reads Secrets only in the namespaces its chart grants (rbac.secretNamespaces)"
                if error.status == 403 else "create it or fix spec.outputs.objectStorage.secretRef")  # fmt: skip
        raise SecretError(
            f"cannot read Secret {spec.namespace}/{secret_name} for object storage ({error.status} {error.reason}); "
            f"{hint}"
        ) from None
    values = {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()
              if key in SECRET_KEYS}  # only the keys named: nothing else of the Secret is decoded or kept  # fmt: skip
    missing = [key for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key not in values]
    if missing:
        raise SecretError(f"Secret {spec.namespace}/{secret_name} lacks {', '.join(missing)}")
    return S3Options(
        endpoint_url=values.get("AWS_ENDPOINT_URL") or settings.s3_endpoint_url,
        region=values.get("AWS_REGION") or settings.s3_region,
        access_key_id=values["AWS_ACCESS_KEY_ID"],
        secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        retention=retention,
    )


def run_period(
    state: OperatorState,
    body: Mapping[str, Any],
    spec: UsageReportSpec,
    mappings: list[TeamMapping],
    run: PlannedRun,
    renew: Callable[[], None] = lambda: None,
) -> PeriodOutcome:
    """Blocking: compute one period, publish its export (if configured), then its ConfigMap. `renew` keeps the
    report's run lease: called as chunks are stored and before anything is published."""
    settings = state.settings
    url = spec.prometheus_url or settings.prometheus_url
    now = min(state.clock(), datetime.now(UTC))
    try:
        sources = cluster_sources(url, settings, run.period.start, min(run.period.end, now), spec.clusters,
                                  observer=state.metrics.observe_query)  # fmt: skip
    except SourceError as error:
        asked = pipeline.request_for(settings, run.period, mappings, spec, now=now, prometheus_url=url,
                                     clusters=spec.clusters, runner=state.identity)  # fmt: skip
        pipeline.record_failure(state.repository, asked, state.queries, error)
        raise
    bill = pipeline.read_node_bill(spec, lambda: s3_options(state, spec))
    request = pipeline.request_for(settings, run.period, mappings, spec, now=now, prometheus_url=url,
                                   recollect=run.restate, clusters=list(sources), runner=state.identity,
                                   node_bill=bill)  # fmt: skip
    result = pipeline.run_report(sources, state.queries, state.repository, request, lambda done, total: renew())
    renew()
    state.metrics.hours_queried_total.labels(spec.namespace, spec.name).inc(result.hours_queried)
    outputs: list[dict[str, Any]] = []
    export = None
    if spec.object_storage is not None:
        store = open_store(spec.object_storage.url, s3_options(state, spec))
        export = publish_export(
            store, period_prefix(spec.namespace, spec.name, run.period.name),
            pipeline.export_files(result.chargeback, spec.object_storage.formats), final=run.final,
            manifest_fields=pipeline.manifest_fields(request, result, state.queries),
            stamp=pipeline.stamper(result.chargeback, spec.object_storage.formats),
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
