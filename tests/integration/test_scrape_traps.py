"""Each real-scrape-setup trap of the generator, against a real Prometheus: kubecharge within 1 % of the generator's
truth, and the naive query (the obvious one, or the one kubecharge itself used before the trap was known)
shown wrong on the same data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import sqlalchemy
import yaml

from kubecharge.collect import promql
from kubecharge.collect.prometheus import PrometheusSource
from kubecharge.domain.collected import CONTAINER_KEYS, HOUR, VALUE
from kubecharge.domain.units import BYTES_PER_GIB, SECONDS_PER_HOUR
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Size, Truth, build_cluster, truth
from tests.conftest import PERIOD, START
from tests.integration.test_accuracy import COLUMNS
from tests.support.ledger_rows import hour_of
from tests.support.reports import assert_teams_match_truth, read_csv, run_in_process

END = START + timedelta(days=2)
CADVISOR = 'job="kubelet", metrics_path="/metrics/cadvisor"'
STATE = 'job="kube-state-metrics"'


def query_range(url: str, query: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The raw answer of a range query at a 1 h step over [start, end): the value at T is the hour before T."""
    answer: dict[str, Any] = requests.post(
        f"{url}/api/v1/query_range",
        data={"query": query, "start": start.timestamp() + 3600, "end": end.timestamp(), "step": 3600},
        timeout=120,
    ).json()
    return answer


def total(url: str, query: str, start: datetime = START, end: datetime = END) -> float:
    answer = query_range(url, query, start, end)
    assert answer["status"] == "success", answer
    return sum(float(v) for s in answer["data"]["result"] for _, v in s["values"])


def truth_between(
    cluster_truth: Truth, start: datetime, end: datetime, quantity: str, namespace: str | None = None
) -> float:
    return sum(v[quantity] for (ns, hour), v in cluster_truth.values.items()
               if start <= hour < end and namespace in (None, ns))  # fmt: skip


@pytest.fixture(scope="module")
def report(prometheus_url: str, mappings_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("traps")
    database = f"sqlite:///{work / 'kubecharge.db'}"
    code, output = run_in_process("report", "--prometheus", prometheus_url, "--mappings", str(mappings_file),
                                  "--period", PERIOD, "--out", str(work / "out"), "--db", database,
                                  "--cluster", "synthetic")  # fmt: skip
    assert code == 0, output
    return work / "out", database


def namespace_totals(out: Path) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for row in read_csv(out / "chargeback.csv"):
        into = totals.setdefault(row["namespace"], {})
        for column in COLUMNS:
            into[column] = into.get(column, 0.0) + float(row[column])
    return totals


def uid_joined_charge(prometheus_url: str, namespace: str | None) -> float:
    """Charged core-hours (max of usage and request per container-hour) with usage joined to requests on the uid
    alone, as a cost tool that trusts the cgroup path would."""
    source = PrometheusSource(prometheus_url, promql.build(QuerySettings()))
    usage = source.usage("cpu_usage_core_hours", START, END).rename(columns={VALUE: "usage"})
    request = source.usage("cpu_request_core_hours", START, END).rename(columns={VALUE: "request"})
    merged = pd.merge(usage, request, on=[*CONTAINER_KEYS, HOUR], how="outer").fillna({"usage": 0.0, "request": 0.0})
    if namespace is not None:
        merged = merged[merged["namespace"] == namespace]
    return float(merged[["usage", "request"]].max(axis=1).sum())


def test_static_pods_join_on_their_name_and_their_node_traffic_is_not_charged(
    report: tuple[Path, str], prometheus_url: str, cluster_truth: Truth
) -> None:
    measured = namespace_totals(report[0])["kube-system"]
    charged = truth_between(cluster_truth, START, END, "cpu_core_hours_max", "kube-system")
    assert measured["cpu_core_hours_charged"] == pytest.approx(charged, rel=0.01)
    assert measured["memory_gib_hours_charged"] == pytest.approx(
        truth_between(cluster_truth, START, END, "memory_gib_hours_max", "kube-system"), rel=0.01
    )
    assert measured["network_gib"] == pytest.approx(0.0, abs=1e-9)  # hostNetwork: the node's traffic
    # Joined on the uid, the mirror pod's request and the cgroup's usage never meet: charged usage + request.
    assert uid_joined_charge(prometheus_url, "kube-system") > 1.3 * charged
    # Excluding hostNetwork pods on (namespace, pod, uid) misses them too: the node's NICs land in kube-system.
    naive_network = total(
        prometheus_url,
        f"""sum(
      max by (namespace, pod, uid, interface) (label_replace(increase(container_network_transmit_bytes_total{{
        {CADVISOR}, namespace="kube-system", pod!=""}}[1h]), {promql.UID_FROM_CGROUP}))
      unless on (namespace, pod, uid)
      max by (namespace, pod, uid) (max_over_time(kube_pod_info{{{STATE}, host_network="true"}}[3599s]))
    ) / {BYTES_PER_GIB}""",
    )
    assert naive_network > 0.5 * truth_between(cluster_truth, START, END, "network_gib")


def test_a_node_whose_scrape_config_drops_the_cgroup_id_is_charged_once(
    report: tuple[Path, str], prometheus_url: str, cluster: Cluster, cluster_truth: Truth
) -> None:
    dropped = [node.name for node in cluster.nodes if node.cgroup_id_dropped]
    assert dropped, "the generator has a node without `id`"
    assert (
        total(prometheus_url, f'count(container_cpu_usage_seconds_total{{{CADVISOR}, node="{dropped[0]}", id=""}})') > 0
    )
    charged = truth_between(cluster_truth, START, END, "cpu_core_hours_max")
    measured = sum(ns["cpu_core_hours_charged"] for ns in namespace_totals(report[0]).values())
    assert measured == pytest.approx(charged, rel=0.01)
    # Joined on the uid alone, that node's containers are charged usage + request rather than the max of the two:
    # too much by Σ min(usage, request) over them (from the model, per namespace and node, summed over containers).
    excess = sum(
        v["cpu_core_hours_usage"] + v["cpu_core_hours_request"] - v["cpu_core_hours_max"]
        for (_, node, hour), v in cluster_truth.node_values.items()
        if node in dropped and START <= hour < END
    )
    assert excess > 0.05 * charged
    assert uid_joined_charge(prometheus_url, None) - charged > 0.8 * excess


def test_a_second_prometheus_replica_breaks_nothing_and_doubles_nothing(
    report: tuple[Path, str], prometheus_url: str, cluster: Cluster, cluster_truth: Truth
) -> None:
    replica = cluster.replicas[0]
    start = cluster.start + timedelta(hours=-(-replica.first_slot * cluster.step_seconds // SECONDS_PER_HOUR))
    end = cluster.start + timedelta(hours=replica.last_slot * cluster.step_seconds // SECONDS_PER_HOUR)
    assert end - start >= timedelta(hours=6)
    # Dividing by `up` matched on the instance alone: two `up` series per instance now.
    answer = query_range(
        prometheus_url,
        f"""
      sum_over_time(container_memory_working_set_bytes{{{CADVISOR}, container!="", container!="POD"}}[3599s])
      / on (instance) group_left () sum_over_time(up{{{CADVISOR}}}[3599s])""",
        start,
        end,
    )
    assert answer["status"] == "error", answer
    assert "duplicate series" in str(answer["error"])
    # Adding every series up counts the replica's copies.
    naive = total(
        prometheus_url,
        f"""sum(increase(container_cpu_usage_seconds_total{{{CADVISOR},
      container!="", container!="POD", namespace!=""}}[1h])) / 3600""",
        start,
        end,
    )
    assert naive > 1.9 * truth_between(cluster_truth, start, end, "cpu_core_hours_usage")
    # kubecharge's hours inside the replica's window are right (read back from the ledger).
    ledger = sqlalchemy.create_engine(report[1])
    with ledger.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT hour_start, cpu_core_hours_usage, memory_gib_hours_usage FROM hourly_usage")).all()  # fmt: skip
    within = [row for row in rows if start <= hour_of(row[0]) < end] if rows else []
    assert within
    assert sum(r[1] for r in within) == pytest.approx(
        truth_between(cluster_truth, start, end, "cpu_core_hours_usage"), rel=0.01
    )
    assert sum(r[2] for r in within) == pytest.approx(
        truth_between(cluster_truth, start, end, "memory_gib_hours_usage"), rel=0.01
    )


def app_only_request(cluster: Cluster, start: datetime, end: datetime) -> float:
    """Core-hours requested by app containers alone while Running, from the model: what a query that knows only
    kube_pod_container_resource_requests can find at best."""
    low, high = cluster.slot_of(start), cluster.slot_of(end)
    hours = 0.0
    for pod in cluster.pods:
        running = sum(1 for slot in range(low, high) if pod.phase_at(slot) == "Running")
        cores = sum(c.cpu_request_cores or 0.0 for c in pod.containers if c.kind == "app")
        hours += running * cores * cluster.step_seconds / SECONDS_PER_HOUR
    return hours


def test_init_containers_sidecars_and_overhead_are_charged_as_kubernetes_reserves(
    report: tuple[Path, str], prometheus_url: str, cluster: Cluster, cluster_truth: Truth
) -> None:
    kinds = {c.kind for pod in cluster.pods for c in pod.containers}
    assert kinds == {"app", "init", "sidecar"}
    assert any(pod.overhead_cpu_cores for pod in cluster.pods)
    requested = truth_between(cluster_truth, START, END, "cpu_core_hours_request")
    measured = namespace_totals(report[0])
    assert sum(ns["cpu_core_hours_request"] for ns in measured.values()) == pytest.approx(requested, rel=0.01)
    assert sum(ns["memory_gib_hours_request"] for ns in measured.values()) == pytest.approx(
        truth_between(cluster_truth, START, END, "memory_gib_hours_request"), rel=0.01
    )
    assert app_only_request(cluster, START, END) < 0.9 * requested  # without them requests are far too low
    # The same query, blind to init containers and overhead (their metrics named as absent), finds only that.
    blind = QuerySettings(
        init_requests_metric="absent", overhead_cpu_metric="absent", state_metrics_interval_seconds=60
    )
    queries = promql.build(blind)
    running = (
        f"({queries.cpu_request_core_hours}) * on (namespace, pod, uid) group_left () ({queries.pod_running_share})"
    )
    naive = total(prometheus_url, running)
    assert naive == pytest.approx(app_only_request(cluster, START, END), rel=0.01)


def test_a_pod_moving_between_state_metrics_shards_mid_hour_is_charged_the_whole_hour(
    report: tuple[Path, str], prometheus_url: str, cluster: Cluster, cluster_truth: Truth
) -> None:
    (reshard,) = cluster.state_metrics_targets[0].reshard_slots
    hour = cluster.start + timedelta(hours=reshard * cluster.step_seconds // SECONDS_PER_HOUR)
    assert (reshard * cluster.step_seconds) % SECONDS_PER_HOUR, "the move is mid-hour"
    after = hour + timedelta(hours=1)
    # Per kube-state-metrics instance, then the largest: two shards that ran all hour each saw a moved pod for part
    # of it only.
    per_instance = total(
        prometheus_url,
        f"""sum(max by (namespace, pod, uid, container) (
      avg_over_time(kube_pod_container_resource_requests{{{STATE}, resource="cpu"}}[3599s])
      * on (namespace, pod, uid, instance) group_left ()
      (sum_over_time(kube_pod_status_phase{{{STATE}, phase="Running"}}[3599s])
       / on (instance) group_left () sum_over_time(up{{{STATE}}}[3599s]))))""",
        hour,
        after,
    )
    assert per_instance < 0.93 * app_only_request(cluster, hour, after)
    ledger = sqlalchemy.create_engine(report[1])
    with ledger.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT hour_start, cpu_core_hours_request FROM hourly_usage")).all()
    measured = sum(r[1] for r in rows if hour_of(r[0]) == hour)
    assert measured == pytest.approx(truth_between(cluster_truth, hour, after, "cpu_core_hours_request"), rel=0.01)


@pytest.fixture(scope="module", params=[15, 30])
def jittered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    """A small cluster scraped every 15 s or 30 s, each scrape jittered around its target's offset."""
    size = Size(pods_per_namespace=1, nodes=3, gpu_nodes=0)  # GPUs are not what this checks: fewer series
    cluster = build_cluster(START, days=1 / 3, step_seconds=request.param, size=size)
    work = tmp_path_factory.mktemp(f"every-{request.param}s")
    backfill(cluster, work / "tsdb", work / "scratch", hours_per_window=8)
    with LocalPrometheus(work / "tsdb") as server:
        yield cluster, server.url


def test_jittered_scrapes_at_15_and_30_seconds_match_truth(
    jittered: tuple[Cluster, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, url = jittered
    assert all(t.jitter_seconds > 0 and t.offset_seconds > 0 for t in cluster.scrape_targets)
    # The interval is not configured: kubecharge reads it from kube-state-metrics' `up` series.
    monkeypatch.delenv("KUBECHARGE_QUERY_STATE_METRICS_INTERVAL_SECONDS", raising=False)
    mappings = tmp_path / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
    code, output = run_in_process("report", "--prometheus", url, "--mappings", str(mappings), "--period", "2026-10-01",
                                  "--out", str(tmp_path / "out"), "--db", f"sqlite:///{tmp_path / 'k.db'}",
                                  "--cluster", "synthetic")  # fmt: skip
    assert code == 0, output
    end = cluster.end
    expected = truth(cluster).by_team(START, end)
    assert_teams_match_truth(read_csv(tmp_path / "out" / "chargeback.csv"), expected)
    # A dashboard that assumes one-minute scrapes multiplies every sample by 60 s.
    memory = sum(t["memory_gib_hours_usage"] for t in expected.values())
    naive = total(
        url,
        f"""sum(sum_over_time(container_memory_working_set_bytes{{{CADVISOR}, container!="",
      container!="POD", namespace!=""}}[3599s])) * 60 / 3600 / {BYTES_PER_GIB}""",
        START,
        end,
    )
    assert naive > 1.9 * memory


def test_the_duplicate_series_sli_counts_the_copies_of_replicas(prometheus_url: str, cluster: Cluster) -> None:
    """Each hour's share of kube-state-metrics pod series that were copies: a second exporter replica and a
    second Prometheus replica each double every pod's series while they run (shards split pods, never copy)."""
    source = PrometheusSource(prometheus_url, promql.build(QuerySettings()))
    per_hour = 3600 // cluster.step_seconds
    exporter = next(t for t in cluster.state_metrics_targets if t.last_slot is not None)  # the HA replica
    replica = cluster.replicas[0]
    exporter_last = exporter.last_slot or cluster.slots
    checked = 0
    for hour in range(cluster.slots // per_hour):
        first, last = hour * per_hour, (hour + 1) * per_hour
        if any(first < edge < last for edge in (exporter.first_slot, exporter_last, replica.first_slot,
                                                replica.last_slot, *state_reshards(cluster))):  # fmt: skip
            continue  # a copy that runs part of the hour: not a whole number of copies
        copies = (1 + (exporter.first_slot <= first and last <= exporter_last)) * (
            1 + (replica.first_slot <= first and last <= replica.last_slot))  # fmt: skip
        if hour % 4:
            continue  # every fourth hour is plenty
        start = cluster.start + timedelta(hours=hour)
        measured = source.duplicate_series_ratio(start, start + timedelta(hours=1))
        assert measured == pytest.approx(1 - 1 / copies, abs=1e-9), (hour, copies)
        checked += copies > 1
    assert checked >= 3  # hours with one, and with two, kinds of copies


def state_reshards(cluster: Cluster) -> list[int]:
    return [slot for target in cluster.state_metrics_targets for slot in target.reshard_slots]
