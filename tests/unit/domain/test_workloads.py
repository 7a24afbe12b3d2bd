"""The workload of each pod-hour, from owner rows worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from kubecharge.domain.collected import HOUR, POD_LABELS, VALUE
from kubecharge.domain.pod_labels import split_by_labels
from kubecharge.domain.workloads import attach_workloads, claim_parts, pod_workloads, with_known_uids, workloads_of

H0 = pd.Timestamp(datetime(2026, 10, 1, tzinfo=UTC))
H1 = H0 + timedelta(hours=1)


def pods(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """(pod, owner_kind, owner_name, hour[, scrapes that saw the owner: 12]) in namespace `shop`; the uid is
    `uid-<pod>`."""
    return pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": f"uid-{pod}", "owner_kind": kind,
                          "owner_name": name, HOUR: hour, VALUE: float(seen[0]) if seen else 12.0}
                         for pod, kind, name, hour, *seen in rows])  # fmt: skip


def controllers(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """(controller kind, controller, owner_kind, owner_name, hour[, scrapes: 12]) in namespace `shop`."""
    return pd.DataFrame([{"namespace": "shop", "controller_kind": ck, "controller": c, "owner_kind": kind,
                          "owner_name": name, HOUR: hour, VALUE: float(seen[0]) if seen else 12.0}
                         for ck, c, kind, name, hour, *seen in rows])  # fmt: skip


def resolved(found: pd.DataFrame) -> dict[tuple[str, pd.Timestamp], tuple[str, str]]:
    """The workload of each pod-hour that had one all hour (its share exactly 1)."""
    assert (found[VALUE] == 1.0).all()
    rows = zip(found["pod"], found[HOUR], found["workload_kind"], found["workload"], strict=True)
    return {(str(pod), pd.Timestamp(hour)): (str(kind), str(name)) for pod, hour, kind, name in rows}


def shares(found: pd.DataFrame) -> dict[tuple[str, pd.Timestamp], dict[tuple[str, str], float]]:
    rows = zip(found["pod"], found[HOUR], found["workload_kind"], found["workload"], found[VALUE], strict=True)
    result: dict[tuple[str, pd.Timestamp], dict[tuple[str, str], float]] = {}
    for pod, hour, kind, name, share in rows:
        result.setdefault((str(pod), pd.Timestamp(hour)), {})[(str(kind), str(name))] = float(share)
    return result


def test_each_kind_of_owner_makes_the_workload_a_team_lead_knows() -> None:
    found = pod_workloads(
        pods(("api-5d8f-x2", "ReplicaSet", "api-5d8f", H0), ("load-281-q", "Job", "load-281", H0),
             ("db-0", "StatefulSet", "db", H0), ("agent-k", "DaemonSet", "agent", H0),
             ("debug", "<none>", "<none>", H0), ("etcd-node-1", "Node", "node-1", H0),
             ("once-z", "Job", "once", H0), ("orphan-r", "ReplicaSet", "orphan", H0)),
        controllers(("ReplicaSet", "api-5d8f", "Deployment", "api", H0),
                    ("Job", "load-281", "CronJob", "load", H0),
                    ("Job", "once", "<none>", "<none>", H0)),
    )  # fmt: skip
    assert resolved(found) == {
        ("api-5d8f-x2", H0): ("Deployment", "api"),
        ("load-281-q", H0): ("CronJob", "load"),
        ("db-0", H0): ("StatefulSet", "db"),
        ("agent-k", H0): ("DaemonSet", "agent"),
        ("debug", H0): ("Pod", "debug"),
        ("etcd-node-1", H0): ("StaticPod", "etcd-node-1"),
        ("once-z", H0): ("Job", "once"),  # a Job of its own: no CronJob owns it
        ("orphan-r", H0): ("ReplicaSet", "orphan"),  # its owner series is gone: the ReplicaSet, by name
    }
    assert list(found["uid"]) == [f"uid-{pod}" for pod in found["pod"]]


def test_a_missing_owner_series_affects_only_its_hours_and_two_replicasets_make_one_deployment() -> None:
    found = pod_workloads(
        pods(("api-old-a", "ReplicaSet", "api-old", H0), ("api-old-a", "ReplicaSet", "api-old", H1),
             ("api-new-b", "ReplicaSet", "api-new", H1)),
        controllers(("ReplicaSet", "api-old", "Deployment", "api", H0),  # not in H1: lost while its pod still ran
                    ("ReplicaSet", "api-new", "Deployment", "api", H1)),
    )  # fmt: skip
    assert resolved(found) == {
        ("api-old-a", H0): ("Deployment", "api"),
        ("api-old-a", H1): ("ReplicaSet", "api-old"),
        ("api-new-b", H1): ("Deployment", "api"),  # the rollout's hour: both ReplicaSets, one Deployment
    }


def test_a_pod_with_two_controllers_in_an_hour_shares_it_by_their_scrapes_and_no_pod_hour_is_lost_or_doubled() -> None:
    found = pod_workloads(
        pods(("x", "StatefulSet", "zeta", H0, 3), ("x", "DaemonSet", "alpha", H0, 9), ("y", "<none>", "<none>", H1)),
        controllers(),
    )
    assert shares(found) == {("x", H0): {("DaemonSet", "alpha"): 0.75, ("StatefulSet", "zeta"): 0.25},
                             ("y", H1): {("Pod", "y"): 1.0}}  # fmt: skip
    assert pod_workloads(pd.DataFrame(), controllers()).empty


def test_an_owner_that_changes_within_the_hour_splits_it_by_the_scrapes_that_saw_each() -> None:
    """A bare pod adopted by a ReplicaSet 5 scrapes into the hour (of 12); a ReplicaSet orphaned after 8 of 12
    scrapes (its `<none>` owner series then), so its pod's hour is 8/12 the Deployment's and 4/12 its own."""
    found = pod_workloads(
        pods(("debug", "<none>", "<none>", H0, 5), ("debug", "ReplicaSet", "web-5f", H0, 7),
             ("web-5f-a", "ReplicaSet", "web-5f", H1, 12), ("cache-9c-b", "ReplicaSet", "cache-9c", H0, 12)),
        controllers(("ReplicaSet", "web-5f", "Deployment", "web", H0, 12),
                    ("ReplicaSet", "web-5f", "Deployment", "web", H1, 12),
                    ("ReplicaSet", "cache-9c", "Deployment", "cache", H0, 8),
                    ("ReplicaSet", "cache-9c", "<none>", "<none>", H0, 4)),
    )  # fmt: skip
    found_shares = shares(found)
    assert found_shares[("debug", H0)] == pytest.approx({("Pod", "debug"): 5 / 12, ("Deployment", "web"): 7 / 12})
    assert found_shares[("web-5f-a", H1)] == {("Deployment", "web"): 1.0}
    assert found_shares[("cache-9c-b", H0)] == pytest.approx({("Deployment", "cache"): 8 / 12,
                                                              ("ReplicaSet", "cache-9c"): 4 / 12})  # fmt: skip
    assert len(found_shares) == 3
    # usage of the adopted pod's hour: split by those shares, nothing lost; others whole
    rows = pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": f"uid-{pod}", HOUR: hour, "cpu": cpu}
                         for pod, hour, cpu in (("debug", H0, 1.2), ("web-5f-a", H1, 2.0))])  # fmt: skip
    split = attach_workloads(rows, ["cpu"], found)
    parts = {(pod, name): cpu for pod, name, cpu in zip(split["pod"], split["workload"], split["cpu"], strict=True)}
    assert parts == pytest.approx({("debug", "debug"): 0.5, ("debug", "web"): 0.7, ("web-5f-a", "web"): 2.0})


def mounts(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """(pod, claim, Running share) in namespace `shop` at H0."""
    return pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": f"uid-{pod}", "persistentvolumeclaim": claim,
                          HOUR: H0, VALUE: share} for pod, claim, share in rows])  # fmt: skip


def test_a_claims_hours_go_to_the_pods_running_with_it_and_the_rest_to_the_claim() -> None:
    storage = pd.DataFrame([{"namespace": "shop", "persistentvolumeclaim": claim, HOUR: H0, VALUE: gib_hours}
                            for claim, gib_hours in (("shared", 10.0), ("half", 8.0), ("idle", 5.0))])  # fmt: skip
    owners = pod_workloads(pods(("api-x", "<none>", "<none>", H0), ("db-0", "StatefulSet", "db", H0)), controllers())
    found = claim_parts(storage, mounts(("api-x", "shared", 0.5), ("db-0", "shared", 1.0), ("db-0", "half", 0.25)),
                        owners)  # fmt: skip
    parts: dict[tuple[str, str], float] = {}
    for kind, name, value in zip(found["workload_kind"], found["workload"], found[VALUE], strict=True):
        parts[(kind, name)] = parts.get((kind, name), 0.0) + value
    # `shared`: 1.5 hours of pods on a 1-hour claim, scaled to the hour: 10 × 0.5 / 1.5 and 10 × 1 / 1.5.
    # `half`: a quarter of the hour with db-0 running, the rest idle; `idle`: nobody mounts it.
    assert parts == pytest.approx(
        {
            ("Pod", "api-x"): 10 / 3,
            ("StatefulSet", "db"): 20 / 3 + 2.0,
            ("PersistentVolumeClaim", "half"): 6.0,
            ("PersistentVolumeClaim", "idle"): 5.0,
        }
    )
    assert sum(parts.values()) == pytest.approx(23.0)  # nothing lost, nothing counted twice


def test_usage_without_a_known_owner_is_its_own_pods_and_a_static_pod_is_found_by_name() -> None:
    owners = pod_workloads(pods(("etcd-node-1", "Node", "node-1", H0)), controllers())
    rows = pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": uid, HOUR: H0}
                         for pod, uid in (("etcd-node-1", "config-hash"), ("stray", "uid-stray"))])  # fmt: skip
    kinds, names = workloads_of(rows, owners)
    assert list(zip(kinds, names, strict=True)) == [("StaticPod", "etcd-node-1"), ("Pod", "stray")]


def test_a_pod_hour_is_split_by_the_time_each_label_set_held() -> None:
    rows = pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": f"uid-{pod}", HOUR: H0, "cpu": cpu}
                         for pod, cpu in (("mover", 2.0), ("plain", 1.0))])  # fmt: skip
    labels = pd.DataFrame([{"namespace": "shop", "pod": "mover", "uid": "uid-mover", HOUR: H0, POD_LABELS: text,
                            VALUE: share} for text, share in (('{"label_team":"web"}', 0.25),
                                                              ('{"label_team":"search"}', 0.75))])  # fmt: skip
    split = split_by_labels(rows, ["cpu"], labels)
    found = {(pod, text): cpu for pod, text, cpu in zip(split["pod"], split[POD_LABELS], split["cpu"], strict=True)}
    assert found == {("plain", ""): 1.0, ("mover", '{"label_team":"web"}'): 0.5,
                     ("mover", '{"label_team":"search"}'): 1.5}  # fmt: skip


def test_usage_without_a_known_uid_takes_the_uid_of_the_one_pod_of_its_name() -> None:
    """cAdvisor's `id` dropped (no uid) or a static pod's config hash: the pod's uid, so its labels are found."""
    owners = pod_workloads(pods(("web-1", "<none>", "<none>", H0), ("db-0", "StatefulSet", "db", H0)), controllers())
    rows = pd.DataFrame([{"namespace": "shop", "pod": pod, "uid": uid, HOUR: H0}
                         for pod, uid in (("web-1", ""), ("db-0", "config-hash"), ("gone", ""))])  # fmt: skip
    assert list(with_known_uids(rows, owners)["uid"]) == ["uid-web-1", "uid-db-0", ""]
