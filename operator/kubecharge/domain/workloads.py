"""The workload of a pod, per hour, from kube-state-metrics' owner series — what a team lead recognises
(a Deployment, a CronJob) rather than the object that owns the pod directly (a ReplicaSet, a Job).

    kube_pod_owner          → ReplicaSet R → kube_replicaset_owner of R → Deployment D: the workload is D
                            → Job J        → kube_job_owner of J        → CronJob C:    the workload is C
                            → StatefulSet, DaemonSet or any other controller: that controller
                            → Node (a static pod's mirror): kind `StaticPod`, the pod's name
                            → `<none>` (a bare pod): kind `Pod`, the pod's name

Each hour is resolved on its own, so a renamed Deployment is a new workload from the hour its pods appear. An
owner that changes within the hour (a bare pod adopted by a ReplicaSet whose selector matches it, a ReplicaSet
orphaned or adopted) splits the pod-hour by the scrapes that saw each owner. Where a ReplicaSet's or Job's own
owner series is missing for the whole hour (the ReplicaSet was deleted while its pods still run, or
kube-state-metrics lost it) the pod's hours go to that ReplicaSet or Job by name: never lost, never guessed; an
owner series present in part of the hour counts for the hour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from kubecharge.domain.collected import CLAIM_KEYS, HOUR, POD_KEYS, VALUE, WORKLOAD_COLUMNS, empty_workloads
from kubecharge.domain.keys import Coder, exact_sums, first_of, texts, unique_per
from kubecharge.domain.pod_hours import split_pod_hours

NONE = "<none>"  # kube-state-metrics' owner labels of an object without owner references
POD_OWNER_KEYS = ("namespace", "pod", "uid", "owner_kind", "owner_name")
CONTROLLER_OWNER_KEYS = ("namespace", "controller", "owner_kind", "owner_name")  # ReplicaSet or Job → its owner
WORKLOAD_KEYS = ("namespace", "pod", "uid", "workload_kind", "workload")
# What a direct owner of these kinds is resolved through, and the owner kind that makes the workload.
THROUGH = {"ReplicaSet": "Deployment", "Job": "CronJob"}


def pod_workloads(pod_owners: pd.DataFrame, controller_owners: pd.DataFrame) -> pd.DataFrame:
    """One row per pod-hour and workload: `namespace, pod, uid, hour_start, workload_kind, workload, value`, the
    value being the workload's share of the pod-hour (1 but where the pod's owner changed within the hour).

    `pod_owners`: a row per pod, hour and controlling owner (`POD_OWNER_KEYS` + hour_start + value: the scrapes that
    saw it); `controller_owners`: the same per ReplicaSet or Job and its owner (`CONTROLLER_OWNER_KEYS` +
    hour_start + `controller_kind` + value). Two owners of a pod at once (never in Kubernetes, possible in a broken
    export) share the hour by their scrapes, as one after the other would: nothing is lost or counted twice."""
    if pod_owners.empty:
        return empty_workloads()
    owners = pod_owners.assign(**{VALUE: _shares(pod_owners, [*POD_OWNER_KEYS[:3], HOUR])})
    resolved = owners.merge(
        _owners_of_controllers(controller_owners),
        how="left",
        left_on=["namespace", "owner_kind", "owner_name", HOUR],
        right_on=["namespace", "controller_kind", "controller", HOUR],
    )
    kind, name = resolved["owner_kind"].astype(object), resolved["owner_name"].astype(object)
    through = resolved["top_kind"].notna()
    kind = kind.where(~through, resolved["top_kind"])
    name = name.where(~through, resolved["top_name"])
    bare, static = resolved["owner_kind"] == NONE, resolved["owner_kind"] == "Node"
    kind = kind.where(~bare, "Pod").where(~static, "StaticPod")
    name = name.where(~(bare | static), resolved["pod"])
    share = resolved[VALUE].to_numpy(dtype=np.float64) * resolved["top_share"].fillna(1.0).to_numpy(dtype=np.float64)
    found = pd.DataFrame({"namespace": resolved["namespace"], "pod": resolved["pod"], "uid": resolved["uid"],
                          HOUR: resolved[HOUR], "workload_kind": kind, "workload": name, VALUE: share})  # fmt: skip
    found = found.groupby([*POD_KEYS, HOUR, *WORKLOAD_COLUMNS], as_index=False, sort=True)[[VALUE]].sum()
    whole = ~found.duplicated([*POD_KEYS, HOUR], keep=False)
    found.loc[whole, VALUE] = 1.0  # one workload all hour, exactly (not a sum of fractions of it)
    return found


def _shares(owners: pd.DataFrame, keys: list[str]) -> npt.NDArray[np.float64]:
    """Each row's scrapes over those of every row of its key: the share of the hour that owner held."""
    seen = owners[VALUE].to_numpy(dtype=np.float64) if VALUE in owners else np.ones(len(owners))
    total = pd.Series(seen).groupby([owners[key].to_numpy() for key in keys]).transform("sum").to_numpy()
    shares: npt.NDArray[np.float64] = seen / total
    return shares


def _owners_of_controllers(controller_owners: pd.DataFrame) -> pd.DataFrame:
    """Each ReplicaSet's or Job's owners per hour that make a workload (a Deployment, a CronJob), with the share of
    the hour each held: `namespace, controller_kind, controller, hour_start, top_kind, top_name, top_share`. The
    hour's other part (no owner, `<none>`) stays the ReplicaSet's or Job's own: a row with no top_kind."""
    columns = ["namespace", "controller_kind", "controller", HOUR, "top_kind", "top_name", "top_share"]
    if controller_owners.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns}).astype(
            {HOUR: "datetime64[ns, UTC]", "top_share": "float64"}
        )
    keys = ["namespace", "controller_kind", "controller", HOUR]
    found = controller_owners.assign(top_share=_shares(controller_owners, keys))
    # compared as Python strings: pandas' own comparison of these columns goes through pyarrow, which reserved
    # a gigabyte of address space for it (measured with memray on a month's report)
    wanted = np.array([THROUGH.get(kind) for kind in found["controller_kind"].tolist()], dtype=object)
    through = pd.Series(found["owner_kind"].to_numpy(dtype=object) == wanted, index=found.index)
    found["top_kind"] = found["owner_kind"].where(through)
    found["top_name"] = found["owner_name"].where(through)
    return found[columns]


PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"  # the kind of a claim's GiB-hours no Running pod mounted


def workloads_of(
    rows: pd.DataFrame, workloads: pd.DataFrame
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """The workload (kind, name) of each row of `rows` (namespace, pod, uid, hour_start), joined on integer codes:
    the pod-hour's own; else, for usage without a usable uid (a static pod's cgroup, a dropped `id`), the one
    workload its name had in the hour; else — kube-state-metrics exported no owner for it in the hour — kind `Pod`
    with the pod's name: the hour is kept, never lost."""
    if rows.empty:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object)
    coder = Coder([rows, workloads])
    (row_pods, known_pods), pods = coder.rows([*POD_KEYS, HOUR])
    (row_names, known_names), names = coder.rows(["namespace", "pod", HOUR])
    (_, known_workloads), found = Coder([rows.assign(workload_kind="", workload=""), workloads]).rows(WORKLOAD_COLUMNS)
    by_pod = np.full(pods, -1, dtype=np.int64)
    by_pod[known_pods] = known_workloads
    by_name = unique_per(known_names, known_workloads, names)
    chosen = by_pod[row_pods]
    chosen = np.where(chosen >= 0, chosen, by_name[row_names])
    kinds = np.full(len(rows), "Pod", dtype=object)
    named = rows["pod"].to_numpy(dtype=object, copy=True)
    if len(workloads):
        first = first_of(known_workloads, found)
        table_kinds = workloads["workload_kind"].to_numpy(dtype=object)
        table_names = workloads["workload"].to_numpy(dtype=object)
        resolved = chosen >= 0
        kinds[resolved] = table_kinds[first[chosen[resolved]]]
        named[resolved] = table_names[first[chosen[resolved]]]
    return kinds, named


def attach_workloads(rows: pd.DataFrame, columns: Sequence[str], workloads: pd.DataFrame) -> pd.DataFrame:
    """`rows` (namespace, pod, uid, hour_start) with their pod-hour's `workload_kind` and `workload`
    (`workloads_of`, after `with_known_uids`); a row of a pod-hour that belonged to several workloads (its owner
    changed within the hour) becomes one row per workload, its `columns` multiplied by that workload's share."""
    rows = with_known_uids(rows, workloads)
    kinds, names = workloads_of(rows, workloads)
    rows = rows.assign(workload_kind=texts(kinds, rows.index), workload=texts(names, rows.index))
    several = workloads.loc[workloads[VALUE].to_numpy(dtype=np.float64) < 1.0] if len(workloads) else workloads
    return split_pod_hours(rows, columns, several, WORKLOAD_COLUMNS)


def with_known_uids(rows: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """`rows` (namespace, pod, uid, hour_start) whose uid kube-state-metrics does not know in the hour (a static
    pod's config hash, no uid where a relabelling dropped cAdvisor's `id`) take the uid of the one pod of that name
    in the hour, so that its workload and labels are found by uid like every other pod's."""
    if rows.empty or workloads.empty:
        return rows
    coder = Coder([rows, workloads])
    (row_pods, known_pods), pods = coder.rows([*POD_KEYS, HOUR])
    known = np.zeros(pods, dtype=bool)
    known[known_pods] = True
    unknown = ~known[row_pods]
    if not unknown.any():
        return rows
    (row_names, known_names), names = coder.rows(["namespace", "pod", HOUR])
    (_, known_uids), uids = coder.column("uid")
    only = unique_per(known_names, known_uids, names)[row_names]
    adopting = unknown & (only >= 0)
    if not adopting.any():
        return rows
    adopted = rows.copy()
    uid = adopted["uid"].to_numpy(dtype=object, copy=True)
    uid[adopting] = uids[only[adopting]]
    adopted["uid"] = uid
    return adopted


def claim_parts(storage: pd.DataFrame, mounts: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """Each claim-hour's GiB-hours (`storage`: namespace, persistentvolumeclaim, hour_start, value) split between
    the workloads of the pods that mounted it while Running, by their Running share (`mounts`' value; shares
    adding up to more than the hour — several pods at once — are scaled to it), and what no Running pod covered
    to the claim itself (kind PersistentVolumeClaim): namespace, pod, uid (the mounting pod's; "" for the claim's own
    row), workload_kind, workload, hour_start, value."""
    columns = [*POD_KEYS, *WORKLOAD_COLUMNS, HOUR, VALUE]
    if storage.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == VALUE else object) for c in columns})
    coder = Coder([storage, mounts])
    (claim_rows, mount_claims), claims = coder.rows([*CLAIM_KEYS, HOUR])
    amount = np.zeros(claims)
    amount[claim_rows] = storage[VALUE].to_numpy(dtype=np.float64)
    has_storage = np.zeros(claims, dtype=bool)
    has_storage[claim_rows] = True
    shares = mounts[VALUE].to_numpy(dtype=np.float64)
    covered = exact_sums(mount_claims, shares, claims)
    kept = has_storage[mount_claims] & (shares > 0)
    mounted = mounts.loc[kept].reset_index(drop=True)
    mounted[VALUE] = amount[mount_claims[kept]] * shares[kept] / np.maximum(covered[mount_claims[kept]], 1.0)
    mounted = attach_workloads(mounted, [VALUE], workloads)
    idle = amount[claim_rows] * (1.0 - np.minimum(covered[claim_rows], 1.0))
    unmounted = storage.loc[idle > 0].reset_index(drop=True)
    found = pd.concat([
        mounted[columns],
        pd.DataFrame({"namespace": unmounted["namespace"], "pod": "", "uid": "",
                      "workload_kind": PERSISTENT_VOLUME_CLAIM,
                      "workload": unmounted["persistentvolumeclaim"], HOUR: unmounted[HOUR],
                      VALUE: idle[idle > 0]}),
    ], ignore_index=True)  # fmt: skip
    return found[columns]
