"""Nodes as the bill sees them: which machine, for how much of each hour, with what capacity.

Instance type, zone and capacity type come from the standard node labels as kube-state-metrics exports them
(`kube_node_labels`, sanitized names, only those its `--metric-labels-allowlist` names); `provider_id` (from
`kube_node_info`) is what a cloud bill's `ResourceId` refers to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

INSTANCE_TYPE_LABELS = ("label_node_kubernetes_io_instance_type", "label_beta_kubernetes_io_instance_type")
ZONE_LABELS = ("label_topology_kubernetes_io_zone", "label_failure_domain_beta_kubernetes_io_zone")


def _first(labels: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((labels[name] for name in names if labels.get(name)), "")


def capacity_type(labels: Mapping[str, str]) -> str:
    """`spot`, `on-demand`, `reserved` (or what the label says), from Karpenter's, EKS', GKE's or AKS' label."""
    karpenter = labels.get("label_karpenter_sh_capacity_type", "")
    if karpenter:
        return karpenter.lower()
    eks = labels.get("label_eks_amazonaws_com_capacityType", "")
    if eks:
        return eks.lower().replace("_", "-")  # SPOT, ON_DEMAND
    if labels.get("label_cloud_google_com_gke_spot") == "true" or labels.get(
        "label_cloud_google_com_gke_provisioning") == "spot":  # fmt: skip
        return "spot"
    azure = labels.get("label_kubernetes_azure_com_scalesetpriority", "")
    if azure:
        return "spot" if azure == "spot" else "on-demand"
    return ""


@dataclass(frozen=True)
class NodeHour:
    """One node in one hour: the share of the hour it existed, its capacity and allocatable per resource key
    (cpu in cores, memory in GiB, gpu in devices), its labels and provider id."""

    node: str
    hour_start: datetime
    hours: float
    capacity: Mapping[str, float] = field(default_factory=dict)
    allocatable: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    provider_id: str = ""
    cluster: str = ""

    @property
    def instance_type(self) -> str:
        return _first(self.labels, INSTANCE_TYPE_LABELS)

    @property
    def zone(self) -> str:
        return _first(self.labels, ZONE_LABELS)

    @property
    def capacity_type(self) -> str:
        return capacity_type(self.labels)
