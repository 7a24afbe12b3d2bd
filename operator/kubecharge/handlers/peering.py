"""Whether the ClusterKopfPeering the replicas meet at exists: without it (installed outside the chart, or deleted)
kopf waits, silently and for ever, handling nothing. The operator says so at start-up, in its log, and fails its
health probe (readiness) until the object is there."""

from __future__ import annotations

import kubernetes

PEERING_GROUP, PEERING_VERSION, PEERINGS = "kopf.dev", "v1", "clusterkopfpeerings"


def peering_problem(api: kubernetes.client.ApiClient, name: str) -> str | None:
    """None when the peering object exists; else what is wrong and what to do."""
    try:
        kubernetes.client.CustomObjectsApi(api).get_cluster_custom_object(
            PEERING_GROUP, PEERING_VERSION, PEERINGS, name
        )
    except kubernetes.client.exceptions.ApiException as error:
        if error.status != 404:
            return f"cannot read the ClusterKopfPeering {name!r} (HTTP {error.status}); check the operator's RBAC"
        return (
            f"the ClusterKopfPeering {name!r} does not exist, so kubecharge handles nothing until it does: create it "
            f"(the Helm chart does; or `kubectl apply` a ClusterKopfPeering named {name!r}, its CRD is in crds/), "
            "or run a single replica with KUBECHARGE_STANDALONE=true"
        )
    return None
