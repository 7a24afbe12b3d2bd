"""The workload of a pod, per hour, from kube-state-metrics' owner series — what a team lead recognises
(a Deployment, a CronJob) rather than the object that owns the pod directly (a ReplicaSet, a Job).

    kube_pod_owner          → ReplicaSet R → kube_replicaset_owner of R → Deployment D: the workload is D
                            → Job J        → kube_job_owner of J        → CronJob C:    the workload is C
                            → StatefulSet, DaemonSet or any other controller: that controller
                            → Node (a static pod's mirror): kind `StaticPod`, the pod's name
                            → `<none>` (a bare pod): kind `Pod`, the pod's name

Each hour is resolved on its own, so a renamed Deployment is a new workload from the hour its pods appear. An
owner series present in any part of the hour counts for the hour. Where a ReplicaSet's or Job's own owner series
is missing (the ReplicaSet was deleted while its pods still run, or kube-state-metrics lost it) the pod's hours go
to that ReplicaSet or Job by name: never lost, never guessed.
"""

from __future__ import annotations

import pandas as pd

from kubecharge.domain.collected import HOUR

NONE = "<none>"  # kube-state-metrics' owner labels of an object without owner references
POD_OWNER_KEYS = ("namespace", "pod", "uid", "owner_kind", "owner_name")
CONTROLLER_OWNER_KEYS = ("namespace", "controller", "owner_kind", "owner_name")  # ReplicaSet or Job → its owner
WORKLOAD_KEYS = ("namespace", "pod", "uid", "workload_kind", "workload")
# What a direct owner of these kinds is resolved through, and the owner kind that makes the workload.
THROUGH = {"ReplicaSet": "Deployment", "Job": "CronJob"}


def pod_workloads(pod_owners: pd.DataFrame, controller_owners: pd.DataFrame) -> pd.DataFrame:
    """One row per pod-hour: `namespace, pod, uid, hour_start, workload_kind, workload`.

    `pod_owners`: a row per pod, hour and controlling owner (`POD_OWNER_KEYS` + hour_start); `controller_owners`: a
    row per ReplicaSet or Job, hour and owner (`CONTROLLER_OWNER_KEYS` + hour_start + `controller_kind`). A pod
    with two controlling owners in one hour (never in Kubernetes, possible in a broken export) keeps the
    alphabetically first, so the answer does not depend on the order series arrive in."""
    if pod_owners.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in (*WORKLOAD_KEYS[:3], HOUR,
                                                                            *WORKLOAD_KEYS[3:])})  # fmt: skip
    owners = pod_owners.sort_values([*POD_OWNER_KEYS[:3], HOUR, "owner_kind", "owner_name"], kind="stable")
    owners = owners.drop_duplicates([*POD_OWNER_KEYS[:3], HOUR], keep="first")
    resolved = owners.merge(
        _owners_of_controllers(controller_owners),
        how="left",
        left_on=["namespace", "owner_kind", "owner_name", HOUR],
        right_on=["namespace", "controller_kind", "controller", HOUR],
    )
    kind, name = resolved["owner_kind"].astype(object), resolved["owner_name"].astype(object)
    through = resolved["top_kind"].notna() & (resolved["top_kind"] == resolved["owner_kind"].map(THROUGH))
    kind = kind.where(~through, resolved["top_kind"])
    name = name.where(~through, resolved["top_name"])
    bare, static = resolved["owner_kind"] == NONE, resolved["owner_kind"] == "Node"
    kind = kind.where(~bare, "Pod").where(~static, "StaticPod")
    name = name.where(~(bare | static), resolved["pod"])
    found = {"namespace": resolved["namespace"], "pod": resolved["pod"], "uid": resolved["uid"], HOUR: resolved[HOUR],
             "workload_kind": kind, "workload": name}  # fmt: skip
    return pd.DataFrame(found).reset_index(drop=True)


def _owners_of_controllers(controller_owners: pd.DataFrame) -> pd.DataFrame:
    """Each ReplicaSet's or Job's owner per hour, when it has one that makes a workload (a Deployment, a CronJob):
    `namespace, controller_kind, controller, hour_start, top_kind, top_name`."""
    columns = ["namespace", "controller_kind", "controller", HOUR, "top_kind", "top_name"]
    if controller_owners.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns}).astype(
            {HOUR: "datetime64[ns, UTC]"}
        )
    found = controller_owners[controller_owners["owner_kind"] == controller_owners["controller_kind"].map(THROUGH)]
    found = found.sort_values(["namespace", "controller_kind", "controller", HOUR, "owner_name"], kind="stable")
    found = found.drop_duplicates(["namespace", "controller_kind", "controller", HOUR], keep="first")
    return found.rename(columns={"owner_kind": "top_kind", "owner_name": "top_name"})[columns]
