"""What the collect stage hands to the rollup stage for one chunk of hours.

Frames, not raw samples: Prometheus has already aggregated per container-hour (where max(usage, request)
needs the container) or per namespace-hour. Every frame carries `hour_start` (UTC) and one value column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from kubecharge.domain.ledger import HourCompleteness

CONTAINER_KEYS = ("namespace", "pod", "uid", "container")
POD_KEYS = ("namespace", "pod", "uid")
CLAIM_KEYS = ("namespace", "persistentvolumeclaim")
CLAIM_MOUNT_KEYS = (*POD_KEYS, "persistentvolumeclaim")
NAMESPACE_KEYS = ("namespace",)
POD_NODE_KEYS = ("namespace", "pod", "uid", "node")
NODE_KEYS = ("node",)
NODE_CAPACITY_KEYS = ("node", "resource", "kind")  # kind: capacity | allocatable
HOUR = "hour_start"
VALUE = "value"


def empty_frame(keys: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **{k: pd.Series(dtype=object) for k in keys},
            HOUR: pd.Series(dtype="datetime64[ns, UTC]"),
            VALUE: pd.Series(dtype="float64"),
        }
    )


WORKLOAD_COLUMNS = ("workload_kind", "workload")
POD_LABELS = "pod_labels"


def empty_workloads() -> pd.DataFrame:
    return pd.DataFrame({**{k: pd.Series(dtype=object) for k in POD_KEYS},
                         HOUR: pd.Series(dtype="datetime64[ns, UTC]"),
                         **{k: pd.Series(dtype=object) for k in WORKLOAD_COLUMNS},
                         VALUE: pd.Series(dtype="float64")})  # fmt: skip


@dataclass(frozen=True)
class UsageNote:
    """What the source found about measuring one resource's usage: `measured` False makes that usage unknown in
    every view (never 0); `message` says what was found and which setting to change."""

    resource: str  # a key of domain.resources
    measured: bool
    message: str


@dataclass(frozen=True)
class NodeFacts:
    """What kube-state-metrics says of the nodes in each hour: where each pod ran, how much of the hour each node
    existed, its capacity and allocatable per resource, and its labels (`label_*`) with `provider_id`."""

    pod_nodes: pd.DataFrame = field(default_factory=lambda: empty_frame(POD_NODE_KEYS))
    node_hours: pd.DataFrame = field(default_factory=lambda: empty_frame(NODE_KEYS))
    node_capacity: pd.DataFrame = field(default_factory=lambda: empty_frame(NODE_CAPACITY_KEYS))
    node_labels: Mapping[tuple[str, datetime], Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkUsage:
    """One frame per question of `domain.resources` (container frames: CONTAINER_KEYS + hour_start + value;
    namespace frames: NAMESPACE_KEYS + hour_start + value), the namespaces' labels, the nodes, and how
    completely each hour of [start, end) was observed."""

    start: datetime
    end: datetime
    frames: Mapping[str, pd.DataFrame]
    namespace_labels: Mapping[tuple[str, datetime], Mapping[str, str]]
    completeness: Mapping[datetime, HourCompleteness]  # every hour of [start, end), observed or not
    nodes: NodeFacts = field(default_factory=NodeFacts)
    # Each pod-hour's workload (`domain.workloads.pod_workloads`), and the PVCs pods mount with the pod's Running
    # share of the hour (CLAIM_MOUNT_KEYS + hour_start + value).
    workloads: pd.DataFrame = field(default_factory=lambda: empty_workloads())
    claim_mounts: pd.DataFrame = field(default_factory=lambda: empty_frame(CLAIM_MOUNT_KEYS))
    # Pods whose labels (kube-state-metrics' `label_*`) matter in an hour: each label set (POD_LABELS, canonical
    # JSON) with the share of the pod-hour it held as value; a pod-hour absent here has no labels.
    pod_labels: pd.DataFrame = field(default_factory=lambda: empty_frame((*POD_KEYS, POD_LABELS)))

    def frame(self, question: str, keys: tuple[str, ...]) -> pd.DataFrame:
        found = self.frames.get(question)
        return found if found is not None else empty_frame(keys)
