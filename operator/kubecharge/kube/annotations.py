"""Write each workload's request recommendation onto it (`spec.recommendations.annotate`), so that whoever opens
the Deployment sees what to set and what it saves.

One merge patch per workload of the annotation alone, and none where it already says the same: the workload's
spec is never touched (changing requests is the team's decision; a patch of the template would roll it out).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from kubecharge.domain.recommendations import Recommendation
from kubecharge.errors import KubernetesApiError

ANNOTATION = "kubecharge.io/recommendation"
# kind → (API group for the hint, the client's read and patch methods)
_KINDS = {
    "Deployment": ("apps", "AppsV1Api", "deployment"),
    "StatefulSet": ("apps", "AppsV1Api", "stateful_set"),
    "DaemonSet": ("apps", "AppsV1Api", "daemon_set"),
    "ReplicaSet": ("apps", "AppsV1Api", "replica_set"),
    "CronJob": ("batch", "BatchV1Api", "cron_job"),
    "Job": ("batch", "BatchV1Api", "job"),
}


@dataclass(frozen=True)
class Annotated:
    written: int  # workloads whose annotation changed
    unchanged: int
    gone: int  # workloads that no longer exist


def _millicores(cores: float) -> str:
    return f"{max(1, round(cores * 1000))}m"


def _mebibytes(gib: float) -> str:
    return f"{max(1, round(gib * 1024))}Mi"


def annotation_values(recommendations: Iterable[Recommendation], window: str) -> dict[tuple[str, str, str], str]:
    """(namespace, kind, name) → the annotation's text: per container what to request and the monthly saving,
    for workloads of an annotatable kind with enough data."""
    grouped: dict[tuple[str, str, str], list[Recommendation]] = {}
    for found in recommendations:
        if found.workload_kind in _KINDS and found.enough_data:
            grouped.setdefault((found.namespace, found.workload_kind, found.workload), []).append(found)
    values = {}
    for key, rows in grouped.items():
        containers = {
            row.container: {"cpu": _millicores(row.cpu_recommended_cores or 0.0),
                            "memory": _mebibytes(row.memory_recommended_gib or 0.0),
                            "monthlySaving": round(row.monthly_saving or 0.0, 2)}
            for row in sorted(rows, key=lambda row: row.container)
        }  # fmt: skip
        text = {"containers": containers, "currency": rows[0].currency, "window": window,
                "hpa": any(row.hpa for row in rows)}  # fmt: skip
        values[key] = json.dumps(text, sort_keys=True, separators=(",", ":"))
    return values


def annotate_workloads(api: kubernetes.client.ApiClient, values: Mapping[tuple[str, str, str], str]) -> Annotated:
    """Patch each workload's annotation to its value where it differs; a workload gone since is skipped. A refusal
    (403: the chart's `rbac.annotateWorkloads` is off) stops with one message naming what to grant."""
    written = unchanged = gone = 0
    for (namespace, kind, name), value in sorted(values.items()):
        group, api_class, noun = _KINDS[kind]
        client: Any = getattr(kubernetes.client, api_class)(api)
        try:
            current = getattr(client, f"read_namespaced_{noun}")(name, namespace)
            annotations = getattr(current.metadata, "annotations", None) or {}
            if annotations.get(ANNOTATION) == value:
                unchanged += 1
                continue
            getattr(client, f"patch_namespaced_{noun}")(name, namespace,
                                                        {"metadata": {"annotations": {ANNOTATION: value}}})  # fmt: skip
            written += 1
        except ApiException as error:
            if error.status == 404:
                gone += 1
                continue
            hint = (f"grant the operator get and patch on {group} {kind.lower()}s (chart value "
                    "rbac.annotateWorkloads: true), or set spec.recommendations.annotate: false"
                    if error.status == 403 else "retrying at the next run")  # fmt: skip
            raise KubernetesApiError(f"cannot annotate {kind} {namespace}/{name}: the API server answered "
                                     f"{error.status} {error.reason}; {hint}") from None  # fmt: skip
    return Annotated(written, unchanged, gone)
