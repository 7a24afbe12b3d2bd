"""One period of one UsageReport, computed and published (blocking: runs in a worker thread).

Order matters: the export first, then the ConfigMap, so the ConfigMap can point at the export when its data does
not fit; a failure at any step raises before anything else of that period is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import SecretError
from kubecharge.handlers.state import OperatorState
from kubecharge.kube.configmaps import ensure_configmap
from kubecharge.kube.secrets import secret_values
from kubecharge.pipeline.job import PublishOutcome, ReportJob, S3Options, produce_report, s3_from_settings
from kubecharge.pipeline.run import ReportResult
from kubecharge.schedule import PlannedRun

SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION")


@dataclass(frozen=True)
class PublishedOutput:
    """One place a period was published to, as status lists it."""

    kind: str  # ObjectStorage | ConfigMap
    location: str
    sha256: str | None
    version: str | None
    period: str
    state: str  # provisional | final

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "sha256": self.sha256, "version": self.version,
                "period": self.period, "state": self.state}  # fmt: skip


@dataclass(frozen=True)
class PeriodOutcome:
    run: PlannedRun
    result: ReportResult | None
    outputs: list[PublishedOutput] = field(default_factory=list)
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
    defaults = s3_from_settings(settings, spec)
    if not secret_name:
        return defaults
    values = secret_values(state.kube, spec.namespace, secret_name, SECRET_KEYS,
                           "object storage (spec.outputs.objectStorage.secretRef)")  # fmt: skip
    missing = [key for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key not in values]
    if missing:
        raise SecretError(f"Secret {spec.namespace}/{secret_name} lacks {', '.join(missing)}")
    return dataclasses.replace(
        defaults,
        endpoint_url=values.get("AWS_ENDPOINT_URL") or defaults.endpoint_url,
        region=values.get("AWS_REGION") or defaults.region,
        access_key_id=values["AWS_ACCESS_KEY_ID"],
        secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
    )


def run_period(
    state: OperatorState,
    body: Mapping[str, Any],
    spec: UsageReportSpec,
    mappings: list[TeamMapping],
    run: PlannedRun,
    renew: Callable[[], None] = lambda: None,
) -> PeriodOutcome:
    """Blocking: the report job for one period (its export, if configured, published by the job), then its
    ConfigMap. `renew` keeps the report's run lease: called as chunks are stored and before anything is published."""
    job = ReportJob(
        settings=state.settings, period=run.period, mappings=mappings, spec=spec, now=state.clock(),
        runner=state.identity, s3=lambda: s3_options(state, spec), recollect=run.restate,
        export_to=spec.object_storage.url if spec.object_storage is not None else None, final=run.final,
        configmap=spec.config_map.enabled, progress=lambda done, total: renew(), observer=state.metrics.observe_query,
    )  # fmt: skip
    produced = produce_report(job, lambda: nullcontext(state.repository))
    result, export = produced.result, produced.export
    state.metrics.hours_queried_total.labels(spec.namespace, spec.name).inc(result.hours_queried)
    outputs: list[PublishedOutput] = []
    if export is not None:
        outputs.append(PublishedOutput("ObjectStorage", f"{export.location}/{export.latest}", export.manifest_sha256,
                                       export.latest, run.period.name, run.state))  # fmt: skip
    if produced.configmap_data is None:
        return PeriodOutcome(run, result, outputs, export=export)
    data = produced.configmap_data
    name = f"{spec.config_map.name or spec.name}-{run.period.name}"
    labels = {"kubecharge.io/report": spec.name, "kubecharge.io/period": run.period.name,
              "kubecharge.io/state": run.state, "app.kubernetes.io/managed-by": "kubecharge"}  # fmt: skip
    _, version = ensure_configmap(state.kube, spec.namespace, name, labels, data, _owner(body))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    outputs.append(PublishedOutput("ConfigMap", f"{spec.namespace}/{name}", digest, version, run.period.name,
                                   run.state))  # fmt: skip
    return PeriodOutcome(run, result, outputs, export=export)
