"""Roll up: container-hours and namespace-hours from Prometheus into one row per namespace, node and hour, and
the nodes into one row per node and hour.

Sums use `math.fsum` (exact, independent of row order), so the same inputs always store the same bits.
This is where max(usage, request) is taken, per container-hour, before anything is summed: a container
that bursts over its request and one that idles under it must not cancel out inside a namespace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import pandas as pd

from kubecharge.domain.collected import CONTAINER_KEYS, HOUR, NAMESPACE_KEYS, VALUE, ChunkUsage
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.resources import RESOURCES, Scope
from kubecharge.domain.sums import fsum_by
from kubecharge.domain.units import BYTES_PER_GIB
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities

_NS_HOUR = ["namespace", HOUR]
_ROW = ["namespace", "node", HOUR]
_POD = ["namespace", "pod", "uid"]
_CAPACITY_KEYS = {"cpu": "cpu", "memory": "memory"}  # kube-state-metrics' resource → the table's key (else: gpu)


def adopt_request_uids(usage: pd.DataFrame, request: pd.DataFrame) -> pd.DataFrame:
    """Usage rows whose uid no request row has take the uid of the one request row with the same namespace,
    pod, container and hour. A static pod's cgroup carries the kubelet's config hash, not the mirror pod's API
    uid, and a scrape config may drop `id` (no uid at all): unjoined, such a container would be charged its
    usage *plus* its request. Where two pods share a name in an hour (a recreated StatefulSet pod) both uids
    match already, and an ambiguous name is left alone."""
    keys = [*CONTAINER_KEYS, HOUR]
    if usage.empty or request.empty:
        return usage
    known = request[keys].drop_duplicates().assign(_known=True)
    matched = usage.merge(known, on=keys, how="left")["_known"].notna().to_numpy()
    if matched.all():
        return usage
    loose = ["namespace", "pod", "container", HOUR]
    uids = request.groupby(loose, sort=False)["uid"].agg(["first", "nunique"]).reset_index()
    uids = uids.loc[uids["nunique"] == 1, [*loose, "first"]]
    orphans = usage.loc[~matched].merge(uids, on=loose, how="left")
    orphans["uid"] = orphans["first"].where(orphans["first"].notna(), orphans["uid"])
    adopted = pd.concat([usage.loc[matched], orphans.drop(columns="first")], ignore_index=True)
    if adopted.duplicated(keys).any():  # the same container seen under both uids in one hour
        adopted = pd.DataFrame(adopted.groupby(keys, as_index=False, sort=False)[VALUE].agg(math.fsum))
    return adopted


def _nodes_of(containers: pd.DataFrame, pod_nodes: pd.DataFrame) -> pd.Series:
    """The node each container-hour ran on: by (namespace, pod, uid), else by (namespace, pod) where that name
    ran on one node in the hour (usage without a usable uid); "" where kube-state-metrics placed it nowhere."""
    if containers.empty or pod_nodes.empty:
        return pd.Series([""] * len(containers), index=containers.index, dtype=object)
    placed = pod_nodes[[*_POD, HOUR, "node"]].drop_duplicates([*_POD, HOUR])
    nodes = containers[[*_POD, HOUR]].merge(placed, on=[*_POD, HOUR], how="left")["node"]
    loose = ["namespace", "pod", HOUR]
    unique = placed.groupby(loose, sort=False)["node"].agg(["first", "nunique"]).reset_index()
    unique = unique.loc[unique["nunique"] == 1, [*loose, "first"]]
    fallback = containers[loose].merge(unique, on=loose, how="left")["first"]
    found = nodes.where(nodes.notna(), fallback).fillna("")
    return pd.Series(found.to_numpy(dtype=object), index=containers.index)


def _container_max(usage: pd.DataFrame, request: pd.DataFrame, name: str, pod_nodes: pd.DataFrame) -> pd.DataFrame:
    keys = [*CONTAINER_KEYS, HOUR]
    usage = adopt_request_uids(usage, request)
    usage, request = usage.rename(columns={VALUE: "usage"}), request.rename(columns={VALUE: "request"})
    if usage.empty or request.empty:  # an empty side has no rows to join (and pandas cannot join empty strings)
        merged = pd.concat([frame for frame in (usage, request) if not frame.empty] or [usage.assign(request=0.0)])
    else:  # the source gives one row per container-hour
        merged = pd.merge(usage, request, on=keys, how="outer")
    merged = merged.reindex(columns=[*keys, "usage", "request"]).fillna({"usage": 0.0, "request": 0.0})
    merged["max"] = merged[["usage", "request"]].max(axis=1)
    merged["node"] = _nodes_of(merged, pod_nodes)
    summed = fsum_by(merged, _ROW, ["usage", "request", "max"])
    return summed.rename(columns={c: f"{name}_{c}" for c in ("usage", "request", "max")})


def _namespace_values(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    summed = fsum_by(frame, _NS_HOUR, [VALUE])
    return summed.rename(columns={VALUE: name}).assign(node="")


def _resource_parts(chunk: ChunkUsage) -> list[pd.DataFrame]:
    parts = []
    for resource in RESOURCES:
        if resource.scope is Scope.CONTAINER:
            usage, request = (chunk.frame(question, CONTAINER_KEYS) for question in resource.questions)
            parts.append(_container_max(usage, request, resource.quantity, chunk.nodes.pod_nodes))
        else:
            parts.append(_namespace_values(chunk.frame(resource.questions[0], NAMESPACE_KEYS), resource.quantity))
    return [part for part in parts if not part.empty]


def namespace_hours(chunk: ChunkUsage) -> list[NamespaceHour]:
    """One row per namespace, node and hour that used anything; labels are those in force that hour.

    A chunk may hold nothing at all (hours before the first sample, beyond retention, an outage): no rows.
    """
    parts = _resource_parts(chunk)
    if not parts:
        return []
    table = parts[0]
    for part in parts[1:]:
        table = pd.merge(table, part, on=_ROW, how="outer")
    columns = list(ResourceQuantities.names())
    table = table.reindex(columns=[*_ROW, *columns]).fillna({c: 0.0 for c in columns})
    table = table.sort_values(_ROW, kind="stable")
    labels = _labels_by_hour(chunk.namespace_labels, table)
    rows = []
    for record in table.itertuples(index=False):
        namespace, node, hour = str(record[0]), str(record[1]), pd.Timestamp(record[2]).to_pydatetime()
        quantities = ResourceQuantities(**{c: float(v) for c, v in zip(columns, record[3:], strict=True)})
        rows.append(NamespaceHour(namespace, hour, quantities, labels.get((namespace, hour), {}), node=node))
    return rows


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
    known: Mapping[tuple[str, datetime], Mapping[str, str]], table: pd.DataFrame
) -> dict[tuple[str, datetime], dict[str, str]]:
    """Labels per namespace-hour; an hour kube-state-metrics missed borrows the nearest hour's labels."""
    by_namespace: dict[str, list[tuple[datetime, Mapping[str, str]]]] = {}
    for (namespace, hour), labels in known.items():
        by_namespace.setdefault(namespace, []).append((hour, labels))
    result: dict[tuple[str, datetime], dict[str, str]] = {}
    for namespace, hour_value in zip(table["namespace"], table[HOUR], strict=True):
        hour = pd.Timestamp(hour_value).to_pydatetime()
        key = (str(namespace), hour)
        if key in known:
            result[key] = dict(known[key])
            continue
        candidates = by_namespace.get(str(namespace))
        if candidates:
            nearest = min(candidates, key=lambda item: (abs((item[0] - hour).total_seconds()), item[0]))
            result[key] = dict(nearest[1])
    return result
