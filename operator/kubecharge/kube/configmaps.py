"""Write a report ConfigMap idempotently: the same data twice is no write at all.

Create-or-patch with a read first; a 409 on create (another replica, or a restart between read and write)
falls back to a patch. A ConfigMap is replaced in one request, so a reader never sees half of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from kubecharge.errors import KubernetesApiError


@contextmanager
def _refusals(namespace: str, name: str) -> Iterator[None]:
    """A refusal by the API server as one line: which ConfigMap and what the server answered (never its body)."""
    try:
        yield
    except ApiException as error:
        hints = {403: "grant the operator's ServiceAccount get/create/patch on configmaps there",
                 422: "the API server finds the ConfigMap invalid (too large, or a bad label)"}  # fmt: skip
        hint = hints.get(error.status or 0, "retrying")
        raise KubernetesApiError(
            f"cannot write ConfigMap {namespace}/{name}: the API server answered {error.status} {error.reason}; {hint}"
        ) from None


def ensure_configmap(
    api: kubernetes.client.ApiClient,
    namespace: str,
    name: str,
    labels: Mapping[str, str],
    data: Mapping[str, str],
    owner: Mapping[str, Any],
) -> tuple[bool, str]:
    """Make the ConfigMap hold `data` and `labels`; returns (changed, resourceVersion)."""
    with _refusals(namespace, name):
        return _ensure(kubernetes.client.CoreV1Api(api), namespace, name, labels, data, owner)


def _ensure(
    core: Any, namespace: str, name: str, labels: Mapping[str, str], data: Mapping[str, str], owner: Mapping[str, Any]
) -> tuple[bool, str]:
    body: Any = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "ownerReferences": [dict(owner)]},
        "data": dict(data),
    }
    try:
        current = core.read_namespaced_config_map(name, namespace)
    except ApiException as error:
        if error.status != 404:
            raise
        current = None
    if current is None:
        try:
            created = core.create_namespaced_config_map(namespace, body)
            return True, _version(created)
        except ApiException as error:
            if error.status != 409:
                raise
            current = core.read_namespaced_config_map(name, namespace)
    current_labels = getattr(current.metadata, "labels", None) or {}
    same_labels = all(current_labels.get(k) == v for k, v in labels.items())
    if (current.data or {}) == dict(data) and same_labels:
        return False, _version(current)
    # Keys no longer present are removed explicitly (a merge patch keeps keys it does not mention).
    stale = {key: None for key in (current.data or {}) if key not in data}
    patch = {"metadata": {"labels": dict(labels)}, "data": {**stale, **dict(data)}}
    patched = core.patch_namespaced_config_map(name, namespace, patch)
    return True, _version(patched)


def _version(config_map: Any) -> str:
    return str(getattr(config_map.metadata, "resource_version", "") or "")
