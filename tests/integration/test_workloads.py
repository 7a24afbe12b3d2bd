"""The workload of every pod-hour, asked of a real Prometheus holding the synthetic cluster's owner series, against
the generator's own resolution (`synthetic.workloads.workload_truth`)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kubecharge.collect import promql
from kubecharge.collect.prometheus import PrometheusSource
from kubecharge.domain.collected import HOUR, VALUE
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.model import Cluster
from kubecharge.synthetic.workloads import MISSING_OWNER_HOURS, workload_truth
from tests.conftest import DAYS, START
from tests.support.reports import read_csv

Shares = dict[tuple[str, str], float]


def found_workloads(prometheus_url: str) -> dict[tuple[str, str, str, int], Shares]:
    """(namespace, pod, uid, hour) → each workload's share of the pod-hour, as kubecharge resolves it."""
    source = PrometheusSource(prometheus_url, promql.build(QuerySettings()))
    found = source.pod_workloads(START, START + timedelta(days=DAYS))
    hours = ((pd.to_datetime(found[HOUR], utc=True) - pd.Timestamp(START)) // pd.Timedelta(hours=1)).astype(int)
    rows = zip(found["namespace"], found["pod"], found["uid"], hours, found["workload_kind"], found["workload"],
               found[VALUE], strict=True)  # fmt: skip
    resolved: dict[tuple[str, str, str, int], Shares] = {}
    for ns, pod, uid, hour, kind, name, share in rows:
        resolved.setdefault((ns, pod, uid, int(hour)), {})[(str(kind), str(name))] = float(share)
    return resolved


def test_every_pod_hour_resolves_to_the_generators_workload(cluster: Cluster, prometheus_url: str) -> None:
    found, truth = found_workloads(prometheus_url), workload_truth(cluster)
    wrong = {key: (got, truth.get(key)) for key, got in found.items() if got != pytest.approx(truth.get(key))}
    assert not wrong, list(wrong.items())[:10]
    # Every pod-hour kube-state-metrics exported is resolved; only the hour Prometheus recorded nothing in is not.
    down_hours = {slot * cluster.step_seconds // 3600 for slot in cluster.prometheus_down_slots}
    missed = [key for key in truth if key not in found and key[3] not in down_hours]
    assert not missed, missed[:10]
    # A rollout: two ReplicaSets of one Deployment have pods in the same hour, and both are that Deployment's.
    per_hour = 3600 // cluster.step_seconds
    replica_sets: dict[int, set[str]] = {}
    for pod in cluster.pods:
        if pod.namespace == "apps" and pod.owner is not None and pod.owner.kind == "ReplicaSet":
            for hour in range(pod.created_slot // per_hour, (pod.deleted_slot - 1) // per_hour + 1):
                replica_sets.setdefault(hour, set()).add(pod.owner.name)
    both = [hour for hour, names in replica_sets.items() if len(names) > 1]
    assert both
    in_rollout = [found[(p.namespace, p.name, p.uid, both[0])] for p in cluster.pods if p.namespace == "apps"
                  and (p.namespace, p.name, p.uid, both[0]) in found]  # fmt: skip
    assert len(in_rollout) >= 2
    assert all(shares == {("Deployment", "apps"): 1.0} for shares in in_rollout)
    kinds = Counter(kind for shares in found.values() for kind, _ in shares)
    assert {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "StaticPod", "ReplicaSet"} <= set(kinds)


def test_a_replicaset_whose_owner_series_is_missing_keeps_its_pods_hours_by_name(
    cluster: Cluster, prometheus_url: str
) -> None:
    lost = next(c for c in cluster.controllers if c.owner_missing_slots is not None)
    assert lost.owner is not None
    assert lost.owner_missing_slots is not None
    found = found_workloads(prometheus_url)
    per_hour = 3600 // cluster.step_seconds
    first, last = (slot // per_hour for slot in lost.owner_missing_slots)
    assert last - first == MISSING_OWNER_HOURS[1] - MISSING_OWNER_HOURS[0]
    pods_of_lost = {(pod.namespace, pod.name, pod.uid) for pod in cluster.pods
                    if pod.owner is not None and pod.owner.name == lost.name}  # fmt: skip
    assert pods_of_lost
    inside = outside = 0
    for key, workload in found.items():
        if key[:3] in pods_of_lost:
            if first <= key[3] < last:
                inside += 1
                assert workload == {("ReplicaSet", lost.name): 1.0}, key
            else:
                outside += 1
                assert workload == {(lost.owner.kind, lost.owner.name): 1.0}, key
    assert inside >= last - first  # each of its pods' hours in the window, at least one pod
    assert outside > inside


def test_a_pod_selector_on_an_unexported_label_is_a_warning_and_the_costliest_workloads_are_printed(
    cluster: Cluster, prometheus_url: str, tmp_path: Path
) -> None:
    """`cost-owner` is on no kube_pod_labels series: the run says which allowlist it needs; `team`, exported, is not
    warned about."""
    unexported = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "TeamMapping", "metadata": {"name": "owned-pods"},
                  "spec": {"team": "payments", "podSelector": {"matchLabels": {"cost-owner": "payments"}}}}  # fmt: skip
    mappings = tmp_path / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all([*cluster.team_mappings, unexported], sort_keys=False))
    result = subprocess.run(
        [sys.executable, "-m", "kubecharge", "report", "--prometheus", prometheus_url, "--mappings", str(mappings),
         "--period", "2026-10-01", "--out", str(tmp_path / "out"), "--db", f"sqlite:///{tmp_path / 'k.db'}",
         "--cluster", "synthetic", "--by", "workload"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # --by workload: the costliest workloads first, as the workloads CSV has them
    rows = read_csv(tmp_path / "out" / "chargeback-workloads.csv")
    costliest = max(rows, key=lambda row: float(row["cost_total_allocated"]))
    assert "Costliest workloads 2026-10-01" in result.stdout
    first = next(line for line in result.stdout.splitlines() if costliest["workload"] in line)
    assert costliest["team"] in first
    assert f"{round(float(costliest['cost_total_allocated']), 2):,.2f}" in first
    assert f"{len(rows) - 20} more workloads in chargeback-workloads.csv" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "podSelector" in line]
    assert len(warnings) == 1, result.stderr
    assert "TeamMapping owned-pods" in warnings[0]
    assert "label_cost_owner" in warnings[0]
    assert "--metric-labels-allowlist=pods=[cost-owner]" in warnings[0]
    assert "Traceback" not in result.stderr


def test_a_pod_adopted_within_an_hour_is_its_own_before_and_its_deployments_after(
    cluster: Cluster, prometheus_url: str
) -> None:
    """A bare pod a ReplicaSet adopts 25 minutes into an hour: that hour is 25/60 the bare pod's and 35/60 the
    Deployment's (the scrapes that saw each owner), the hours before wholly the pod's, those after the Deployment's."""
    adopted = next(pod for pod in cluster.pods if pod.adopted is not None)
    assert adopted.adopted is not None
    slot, replica_set = adopted.adopted
    key = (adopted.namespace, replica_set.kind, replica_set.name)
    deployment = next(c.owner for c in cluster.controllers if (c.namespace, c.kind, c.name) == key)
    assert deployment is not None
    assert deployment.kind == "Deployment"
    per_hour = 3600 // cluster.step_seconds
    hour = slot // per_hour
    assert slot % per_hour == per_hour * 25 // 60  # in the middle of the hour, as designed
    found = found_workloads(prometheus_url)
    pod_hours = {key[3]: shares for key, shares in found.items() if key[:3] == (adopted.namespace, adopted.name,
                                                                               adopted.uid)}  # fmt: skip
    bare, owned = ("Pod", adopted.name), (deployment.kind, deployment.name)
    assert pod_hours[hour] == pytest.approx({bare: 25 / 60, owned: 35 / 60})
    assert pod_hours[hour - 1] == {bare: 1.0}
    assert pod_hours[hour + 1] == {owned: 1.0}
    assert {h for h, shares in pod_hours.items() if bare in shares} == set(range(min(pod_hours), hour + 1))
