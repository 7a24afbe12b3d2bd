"""The UsageReports and TeamMappings the portal prices with, read from the API server as the operator reads them."""

from __future__ import annotations

import logging
from typing import Any

import kubernetes

from kubecharge import manifests
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import SourceError
from kubecharge.kube.client import api_error

log = logging.getLogger("kubecharge.portal")
GROUP, VERSION = "kubecharge.io", "v1alpha1"


def read_catalogue(api: kubernetes.client.ApiClient) -> tuple[dict[str, UsageReportSpec], list[TeamMapping]]:
    """Every UsageReport (`namespace/name`) and TeamMapping; one that does not pass the CRD's schema is left out
    and said in the log (the operator reports it in its status)."""
    objects = kubernetes.client.CustomObjectsApi(api)
    try:
        reports: list[dict[str, Any]] = objects.list_cluster_custom_object(GROUP, VERSION, "usagereports")["items"]  # type: ignore[index]
        mappings: list[dict[str, Any]] = objects.list_cluster_custom_object(GROUP, VERSION, "teammappings")["items"]  # type: ignore[index]
    except (kubernetes.client.ApiException, OSError) as error:
        raise SourceError(f"UsageReports and TeamMappings could not be listed: {api_error(error)}") from None
    found: dict[str, UsageReportSpec] = {}
    for document in reports:
        if _valid("UsageReport", document):
            spec = manifests.usage_report_from_object(document)
            found[f"{spec.namespace}/{spec.name}"] = spec
    teams = [manifests.team_mapping_from_object(document) for document in mappings if _valid("TeamMapping", document)]
    return found, teams


def _valid(kind: str, document: dict[str, Any]) -> bool:
    problems = manifests.schema_errors(kind, document)
    if problems:
        name = (document.get("metadata") or {}).get("name", "?")
        log.warning("%s %s left out of the portal: %s", kind, name, "; ".join(problems))
    return not problems
