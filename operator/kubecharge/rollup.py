"""Roll up: container-hours and namespace-hours from Prometheus into one row per namespace and hour.

Sums use `math.fsum` (exact, independent of row order), so the same inputs always store the same bits.
This is where max(usage, request) is taken, per container-hour, before anything is summed: a container
that bursts over its request and one that idles under it must not cancel out inside a namespace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import pandas as pd

from kubecharge.domain.collected import CONTAINER_KEYS, HOUR, VALUE, ChunkUsage
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities

_NS_HOUR = ["namespace", HOUR]


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


def _container_max(usage: pd.DataFrame, request: pd.DataFrame, name: str) -> pd.DataFrame:
    keys = [*CONTAINER_KEYS, HOUR]
    usage = adopt_request_uids(usage, request)
    usage, request = usage.rename(columns={VALUE: "usage"}), request.rename(columns={VALUE: "request"})
    if usage.empty or request.empty:  # an empty side has no rows to join (and pandas cannot join empty strings)
        merged = pd.concat([frame for frame in (usage, request) if not frame.empty] or [usage.assign(request=0.0)])
    else:  # the source gives one row per container-hour
        merged = pd.merge(usage, request, on=keys, how="outer")
    merged = merged.reindex(columns=[*keys, "usage", "request"]).fillna({"usage": 0.0, "request": 0.0})
    merged["max"] = merged[["usage", "request"]].max(axis=1)
    summed: pd.DataFrame = merged.groupby(_NS_HOUR, as_index=False)[["usage", "request", "max"]].agg(math.fsum)
    return summed.rename(columns={c: f"{name}_{c}" for c in ("usage", "request", "max")})


def _namespace_values(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    summed: pd.DataFrame = frame.groupby(_NS_HOUR, as_index=False)[[VALUE]].agg(math.fsum)
    return summed.rename(columns={VALUE: name})


def namespace_hours(chunk: ChunkUsage) -> list[NamespaceHour]:
    """One row per namespace-hour that used anything; labels are those in force that hour.

    A chunk may hold nothing at all (hours before the first sample, beyond retention, an outage): no rows.
    """
    parts = [
        part
        for part in (
            _container_max(chunk.cpu_usage_core_hours, chunk.cpu_request_core_hours, "cpu_core_hours"),
            _container_max(chunk.memory_usage_gib_hours, chunk.memory_request_gib_hours, "memory_gib_hours"),
            _namespace_values(chunk.storage_gib_hours, "storage_gib_hours"),
            _namespace_values(chunk.network_gib, "network_gib"),
        )
        if not part.empty
    ]
    if not parts:
        return []
    table = parts[0]
    for part in parts[1:]:
        table = pd.merge(table, part, on=_NS_HOUR, how="outer")
    columns = list(ResourceQuantities.names())
    table = table.reindex(columns=[*_NS_HOUR, *columns]).fillna({c: 0.0 for c in columns})
    table = table.sort_values(_NS_HOUR, kind="stable")
    labels = _labels_by_hour(chunk.namespace_labels, table)
    rows = []
    for record in table.itertuples(index=False):
        namespace, hour = str(record[0]), pd.Timestamp(record[1]).to_pydatetime()
        quantities = ResourceQuantities(**{c: float(v) for c, v in zip(columns, record[2:], strict=True)})
        rows.append(NamespaceHour(namespace, hour, quantities, labels.get((namespace, hour), {})))
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
