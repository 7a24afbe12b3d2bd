"""Roll up: container-hours, pod-hours and claim-hours from Prometheus into one row per namespace, node, workload
and hour, and the nodes into one row per node and hour.

Sums use `math.fsum` (exact, independent of row order), so the same inputs always store the same bits.
This is where max(usage, request) is taken, per container-hour, before anything is summed: a container
that bursts over its request and one that idles under it must not cancel out inside a namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from kubecharge.domain.collected import (
    CLAIM_KEYS,
    CONTAINER_KEYS,
    HOUR,
    POD_KEYS,
    POD_LABELS,
    VALUE,
    WORKLOAD_COLUMNS,
    ChunkUsage,
)
from kubecharge.domain.hour_table import KEY_COLUMNS, QUANTITY_COLUMNS, HourTable
from kubecharge.domain.keys import Coder, column_codes, exact_sums, first_of, row_codes, texts, unique_per
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.pod_labels import split_by_labels
from kubecharge.domain.resource_table import RESOURCES, Scope
from kubecharge.domain.units import BYTES_PER_GIB
from kubecharge.domain.workloads import attach_workloads, claim_parts

_ROW = ["namespace", "node", *WORKLOAD_COLUMNS, POD_LABELS, HOUR]
_POD = ["namespace", "pod", "uid"]
_CONTAINER_HOUR = [*CONTAINER_KEYS, HOUR]
_LOOSE_CONTAINER_HOUR = ["namespace", "pod", "container", HOUR]
_LOOSE_POD_HOUR = ["namespace", "pod", HOUR]
_CAPACITY_KEYS = {"cpu": "cpu", "memory": "memory"}  # kube-state-metrics' resource → the table's key (else: gpu)


def adopt_request_uids(usage: pd.DataFrame, request: pd.DataFrame) -> pd.DataFrame:
    """Usage rows whose uid no request row has take the uid of the one request row with the same namespace,
    pod, container and hour. A static pod's cgroup carries the kubelet's config hash, not the mirror pod's API
    uid, and a scrape config may drop `id` (no uid at all): unjoined, such a container would be charged its
    usage *plus* its request. Where two pods share a name in an hour (a recreated StatefulSet pod) both uids
    match already, and an ambiguous name is left alone."""
    if usage.empty or request.empty:
        return usage
    coder = Coder([usage, request])
    (usage_keys, request_keys), count = coder.rows(_CONTAINER_HOUR)
    requested = np.zeros(count, dtype=bool)
    requested[request_keys] = True
    orphan = ~requested[usage_keys]
    if not orphan.any():
        return usage
    (usage_names, request_names), names = coder.rows(_LOOSE_CONTAINER_HOUR)
    (_, request_uids), uids = coder.column("uid")
    only_uid = unique_per(request_names, request_uids, names)  # the request's uid where its name has just one
    adopting = orphan & (only_uid[usage_names] >= 0)
    if not adopting.any():
        return usage
    adopted = usage.copy()
    uid = adopted["uid"].to_numpy(dtype=object, copy=True)
    uid[adopting] = uids[only_uid[usage_names[adopting]]]
    adopted["uid"] = uid
    (keys,), count = row_codes([adopted], _CONTAINER_HOUR)
    if count == len(adopted):
        return adopted
    # The same container seen under both uids in one hour: one row, the exact sum.
    summed = adopted.iloc[first_of(keys, count)].reset_index(drop=True)
    summed[VALUE] = exact_sums(keys, adopted[VALUE].to_numpy(dtype=np.float64), count)
    return summed


def _container_max(usage: pd.DataFrame, request: pd.DataFrame, name: str, chunk: ChunkUsage) -> pd.DataFrame:
    """Σ usage, Σ request and Σ max(usage, request) per namespace, node, workload and hour, the max taken per
    container-hour.

    Joined on integer codes (`domain.keys`), never on the string columns: the node of a container-hour is that of
    its pod (namespace, pod, uid) in the hour, else the one node its name ran on in the hour (usage without a
    usable uid), else "" (kube-state-metrics placed it nowhere); its workload is its pod's (`attach_workloads`)."""
    pod_nodes = chunk.nodes.pod_nodes
    usage = adopt_request_uids(usage, request)
    sides = [frame for frame in (usage, request) if not frame.empty]
    if not sides:
        return pd.DataFrame(columns=[*_ROW, *(f"{name}_{c}" for c in ("usage", "request", "max"))])
    placed = pod_nodes[[*_POD, HOUR, "node"]]
    coder = Coder([usage, request, placed.assign(container="")])
    (usage_keys, request_keys, _), _ = coder.rows(_CONTAINER_HOUR)
    containers, found = pd.factorize(np.concatenate([usage_keys, request_keys]))  # the containers alone, 0 … n-1
    usage_keys, request_keys = np.split(np.asarray(containers, dtype=np.int64), [len(usage_keys)])
    count = len(found)
    used = exact_sums(usage_keys, usage[VALUE].to_numpy(dtype=np.float64), count)
    requested = exact_sums(request_keys, request[VALUE].to_numpy(dtype=np.float64), count)
    (usage_pods, request_pods, placed_pods), pods = coder.rows([*_POD, HOUR])
    (usage_names, request_names, placed_names), names = coder.rows(_LOOSE_POD_HOUR)
    (placed_nodes,), node_names = column_codes([placed], "node")
    # A container's representative row (its first, in usage then request) gives its pod, namespace and hour.
    representative = first_of(np.concatenate([usage_keys, request_keys]), count)
    first_place = first_of(placed_pods, pods)
    node_of_pod = np.append(placed_nodes, -1)[first_place]  # -1: no row placed the pod
    node_of_name = unique_per(placed_names, placed_nodes, names)
    node = node_of_pod[np.concatenate([usage_pods, request_pods])[representative]]
    node = np.where(node >= 0, node, node_of_name[np.concatenate([usage_names, request_names])[representative]])
    both = pd.concat([usage[[*POD_KEYS, HOUR]], request[[*POD_KEYS, HOUR]]], ignore_index=True)
    rows = both.iloc[representative].reset_index(drop=True)
    rows.insert(1, "node", texts(np.append(node_names, "").astype(object)[node], rows.index))  # -1 (nowhere): ""
    columns = {
        f"{name}_{column}": values
        for column, values in (("usage", used), ("request", requested), ("max", np.maximum(used, requested)))
    }
    rows = attach_workloads(rows.assign(**columns), list(columns), chunk.workloads)
    rows = split_by_labels(rows, list(columns), chunk.pod_labels)
    (groups,), count = row_codes([rows], _ROW)
    summed = rows[_ROW].iloc[first_of(groups, count)].reset_index(drop=True)
    for column in columns:
        summed[column] = exact_sums(groups, rows[column].to_numpy(dtype=np.float64), count)
    return summed


def _workload_values(frame: pd.DataFrame, name: str, chunk: ChunkUsage) -> pd.DataFrame:
    """Amounts that run on no node (a claim's GiB-hours, a pod's bytes sent), per namespace, workload, pod label set
    and hour."""
    rows = split_by_labels(frame, [VALUE], chunk.pod_labels).assign(node="")
    (groups,), count = row_codes([rows], _ROW)
    summed = rows[_ROW].iloc[first_of(groups, count)].reset_index(drop=True)
    summed[name] = exact_sums(groups, rows[VALUE].to_numpy(dtype=np.float64), count)
    return summed


def _pod_amounts(frame: pd.DataFrame, chunk: ChunkUsage) -> pd.DataFrame:
    """A pod-keyed amount (network) with its pod-hour's workload."""
    return attach_workloads(frame, [VALUE], chunk.workloads)


def _resource_parts(chunk: ChunkUsage) -> list[pd.DataFrame]:
    parts = []
    for resource in RESOURCES:
        if resource.scope is Scope.CONTAINER:
            usage, request = (chunk.frame(question, CONTAINER_KEYS) for question in resource.questions)
            parts.append(_container_max(usage, request, resource.quantity, chunk))
        elif resource.key == "storage":
            storage = claim_parts(chunk.frame(resource.questions[0], CLAIM_KEYS), chunk.claim_mounts, chunk.workloads)
            parts.append(_workload_values(storage, resource.quantity, chunk))
        else:
            amounts = _pod_amounts(chunk.frame(resource.questions[0], POD_KEYS), chunk)
            parts.append(_workload_values(amounts, resource.quantity, chunk))
    return [part for part in parts if not part.empty]


def hour_table(chunk: ChunkUsage) -> HourTable:
    """One row per namespace, node, workload, pod label set and hour that used anything, as columns; labels are
    those in force that hour.

    A chunk may hold nothing at all (hours before the first sample, beyond retention, an outage): no rows.
    """
    parts = _resource_parts(chunk)
    if not parts:
        return HourTable.empty()
    codes, count = row_codes(parts, _ROW)  # each part has one row per namespace, node and hour
    keys = pd.concat([part[_ROW] for part in parts], ignore_index=True)
    table = keys.iloc[first_of(np.concatenate(codes), count)].reset_index(drop=True)
    amounts = np.zeros((count, len(QUANTITY_COLUMNS)), dtype=np.float64)
    for part, part_codes in zip(parts, codes, strict=True):
        for column in part.columns.difference(_ROW):
            amounts[part_codes, QUANTITY_COLUMNS.index(column)] = part[column].to_numpy(dtype=np.float64)
    table = table.sort_values(_ROW, kind="stable")
    order = table.index.to_numpy()
    table = table.reset_index(drop=True)
    present = table[["namespace", HOUR]].drop_duplicates()
    wanted = {(str(namespace), pd.Timestamp(hour).to_pydatetime())
              for namespace, hour in zip(present["namespace"], present[HOUR], strict=True)}  # fmt: skip
    return HourTable(table[[*KEY_COLUMNS, HOUR]], amounts[order], _labels_by_hour(chunk.namespace_labels, wanted))


def node_hours(chunk: ChunkUsage) -> list[NodeHour]:
    """One row per node and hour it existed in: its share of the hour, capacity, allocatable and labels."""
    facts = chunk.nodes
    if facts.node_hours.empty:
        return []
    amounts: dict[tuple[str, datetime, str], dict[str, float]] = {}
    capacity = facts.node_capacity
    for node, resource, kind, hour, value in zip(capacity["node"], capacity["resource"], capacity["kind"],
                                                 capacity[HOUR], capacity[VALUE], strict=True):  # fmt: skip
        key = _CAPACITY_KEYS.get(str(resource), "gpu")
        divisor = BYTES_PER_GIB if key == "memory" else 1.0
        amounts.setdefault((str(node), pd.Timestamp(hour).to_pydatetime(), str(kind)), {})[key] = float(value) / divisor
    rows = []
    ordered = facts.node_hours.sort_values(["node", HOUR], kind="stable")
    for node, hour_value, share in zip(ordered["node"], ordered[HOUR], ordered[VALUE], strict=True):
        hour = pd.Timestamp(hour_value).to_pydatetime()
        labels = dict(facts.node_labels.get((str(node), hour), {}))
        provider_id = labels.pop("provider_id", "")
        rows.append(NodeHour(str(node), hour, min(float(share), 1.0), amounts.get((str(node), hour, "capacity"), {}),
                             amounts.get((str(node), hour, "allocatable"), {}), labels, provider_id))  # fmt: skip
    return rows


def _labels_by_hour(
    known: Mapping[tuple[str, datetime], Mapping[str, str]], wanted: set[tuple[str, datetime]]
) -> dict[tuple[str, datetime], dict[str, str]]:
    """Labels per namespace-hour; an hour kube-state-metrics missed borrows the nearest hour's labels."""
    by_namespace: dict[str, list[tuple[datetime, Mapping[str, str]]]] = {}
    for (namespace, hour), labels in known.items():
        by_namespace.setdefault(namespace, []).append((hour, labels))
    result: dict[tuple[str, datetime], dict[str, str]] = {}
    for namespace, hour in wanted:
        key = (str(namespace), hour)
        if key in known:
            result[key] = dict(known[key])
            continue
        candidates = by_namespace.get(str(namespace))
        if candidates:
            nearest = min(candidates, key=lambda item: (abs((item[0] - hour).total_seconds()), item[0]))
            result[key] = dict(nearest[1])
    return result
