"""Per-team numbers from a real Prometheus against the synthetic cluster's own truth (within 1%)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from kubecharge.attribute import attribute
from kubecharge.manifests import team_mapping_from_object
from kubecharge.store.repository import Repository
from kubecharge.synthetic.model import Cluster, Truth
from tests.conftest import PERIOD, START
from tests.support.postgres import fresh_database
from tests.support.reports import (
    TRUTH_OF_COLUMN,
    assert_namespaces_within_band,
    assert_teams_match_truth,
    assert_workloads_within_band,
    by_team,
    read_csv,
    run_in_process,
)

END = START.replace(day=3)

COLUMNS = TRUTH_OF_COLUMN  # CSV column -> truth quantity


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def report_dir(request: pytest.FixtureRequest, prometheus_url: str, mappings_file: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:  # fmt: skip
    """The report, computed through each storage backend (rollups are stored, then read back to price)."""
    work = tmp_path_factory.mktemp("accuracy")
    if request.param == "sqlite":
        database = f"sqlite:///{work / 'kubecharge.db'}"
    else:
        database = fresh_database(request.getfixturevalue("postgres_server"))
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", PERIOD,
        "--out", str(work / "out"), "--db", database, "--cluster", "synthetic",
    )  # fmt: skip
    assert code == 0, output
    (work / "database-url").write_text(database)  # the ledger the report left, for tests that read it
    return work / "out"


def test_the_cluster_has_what_the_acceptance_needs(cluster: Cluster) -> None:
    assert len(cluster.namespaces) >= 20
    assert len(cluster.teams()) >= 6
    kinds = {key for m in cluster.team_mappings for key in m["spec"] if key.startswith("namespace")}  # type: ignore[attr-defined]
    assert kinds == {"namespaces", "namespaceSelector", "namespacePatterns"}


def test_every_team_matches_truth_within_one_percent(report_dir: Path, cluster_truth: Truth) -> None:
    measured = by_team(read_csv(report_dir / "chargeback.csv"))
    expected = cluster_truth.by_team(START, END)
    assert set(measured) == set(expected)  # same teams, unallocated included
    assert "unallocated" in measured
    for team, truth in expected.items():
        for column, quantity in COLUMNS.items():
            want, got = truth[quantity], measured[team][column]
            assert got == pytest.approx(want, rel=0.01, abs=1e-6), f"{team} {column}: {got} vs truth {want}"


def test_every_namespace_is_within_the_band_its_samples_allow(report_dir: Path, cluster_truth: Truth) -> None:
    """The finest grain published, judged on its own: a namespace of short runs between scrapes included."""
    rows = read_csv(report_dir / "chargeback.csv")
    judged = assert_namespaces_within_band(rows, cluster_truth.band_by_namespace(START, END), "period")
    assert judged >= 26
    assert "batch-hourly" in {row["namespace"] for row in rows}


def test_every_workload_is_within_the_band_its_samples_allow(report_dir: Path, cluster_truth: Truth) -> None:
    """Below the namespace, each workload row on its own: Deployments through their ReplicaSets (one of them for the
    hours its owner series is missing), StatefulSets, DaemonSets, CronJobs through their Jobs, Jobs, bare and static
    pods, and PVC GiB-hours by the pods that mount them, or the claim's own row while no Running pod does."""
    rows = read_csv(report_dir / "chargeback-workloads.csv")
    judged = assert_workloads_within_band(rows, cluster_truth.band_by_workload(START, END), "period")
    kinds = {row["workload_kind"] for row in rows}
    assert kinds >= {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "StaticPod", "ReplicaSet",
                     "PersistentVolumeClaim"}, kinds  # fmt: skip
    assert judged >= 100


def test_every_workload_of_every_day_is_within_its_band(report_dir: Path, cluster_truth: Truth) -> None:
    """chargeback-workloads-daily.csv, each (day, workload) row judged on its own against the day's band."""
    rows = read_csv(report_dir / "chargeback-workloads-daily.csv")
    days = sorted({row["period_start"] for row in rows})
    assert len(days) == (END - START).days
    for day in days:
        start = datetime.fromisoformat(day.replace("Z", "+00:00"))
        mine = [row for row in rows if row["period_start"] == day]
        assert assert_workloads_within_band(mine, cluster_truth.band_by_workload(start, start + timedelta(days=1)),
                                            day) >= 50  # fmt: skip


def test_a_claim_is_charged_to_the_pods_that_mount_it_and_idle_to_itself(report_dir: Path, cluster: Cluster) -> None:
    """postgres-0's volume: its StatefulSet's while either postgres-0 runs, the claim's own between them (the old pod
    failed, the new one not yet Running); a claim nobody mounts is its own row all period."""
    rows = {(row["namespace"], row["workload_kind"], row["workload"]): float(row["storage_gib_hours"])
            for row in read_csv(report_dir / "chargeback-workloads.csv")}  # fmt: skip
    gib = 8.0
    old, new = sorted((pod for pod in cluster.pods if pod.name == "postgres-0"), key=lambda pod: pod.created_slot)
    assert old.finished_slot is not None
    assert new.running_slot is not None
    step_hours = cluster.step_seconds / 3600
    between = (new.running_slot - old.finished_slot) * step_hours  # hours the claim was mounted by no Running pod
    hours = (END - START).total_seconds() / 3600
    assert rows[("payments-db", "PersistentVolumeClaim", "pgdata-postgres-0")] == pytest.approx(
        gib * (between + (old.running_slot or 0) * step_hours), rel=0.05
    )
    assert rows[("payments-db", "StatefulSet", "postgres")] == pytest.approx(
        gib * hours - rows[("payments-db", "PersistentVolumeClaim", "pgdata-postgres-0")], rel=0.01
    )
    assert ("search-indexer", "PersistentVolumeClaim", "index-scratch") in rows


def test_the_workload_rows_add_up_to_each_chargeback_row(report_dir: Path) -> None:
    lines = read_csv(report_dir / "chargeback.csv")
    parts = read_csv(report_dir / "chargeback-workloads.csv")
    assert list(parts[0])[:6] == ["period_start", "period_end", "team", "namespace", "workload_kind", "workload"]
    assert [c for c in parts[0] if c not in ("workload_kind", "workload")] == list(lines[0])
    numeric = [c for c in lines[0] if c not in ("period_start", "period_end", "team", "namespace", "currency",
                                                "cluster", "cost_center")]  # fmt: skip
    for line in lines:
        mine = [p for p in parts if (p["team"], p["namespace"], p["cluster"]) ==
                (line["team"], line["namespace"], line["cluster"])]  # fmt: skip
        assert mine, line["namespace"]
        for column in numeric:
            total = sum(float(p[column]) for p in mine)
            # each printed to 9 places: the rows' roundings add up to at most half a unit each
            assert abs(total - float(line[column])) <= 0.5e-9 * (len(mine) + 1) + 1e-12, (line["namespace"], column)


def test_pods_labelled_for_a_team_are_its_own_in_a_shared_namespace(report_dir: Path, cluster_truth: Truth) -> None:
    """`apps` is platform's by name; web's podSelector (tying, as a pod rule, and winning) and search's claim the pods
    labelled for them: one chargeback row per team there, each within 1 % of its truth."""
    rows = {(row["team"], row["namespace"]): row for row in read_csv(report_dir / "chargeback.csv")}
    expected = {key: values for key, values in cluster_truth.by_team_and_namespace(START, END).items()
                if key[1] == "apps"}  # fmt: skip
    assert set(expected) == {("web", "apps"), ("search", "apps"), ("platform", "apps")}
    assert {key for key in rows if key[1] == "apps"} == set(expected)
    for key, truth in expected.items():
        for column, quantity in COLUMNS.items():
            assert float(rows[key][column]) == pytest.approx(truth[quantity], rel=0.01, abs=1e-6), (key, column)


def test_a_pod_relabelled_mid_hour_is_split_in_that_hour(report_dir: Path, cluster: Cluster) -> None:
    """apps-mover-0 moves from web to search a little after the middle of an hour: the hour before is web's, the
    hour after search's, and that hour split by the time each label held (as the scrapes saw it)."""
    mover = next(pod for pod in cluster.pods if pod.name == "apps-mover-0")
    relabelled = mover.teams[1][0]
    per_hour = 3600 // cluster.step_seconds
    hour = START + timedelta(hours=relabelled // per_hour)
    mappings = [team_mapping_from_object(m) for m in cluster.team_mappings]
    repository = Repository((report_dir.parent / "database-url").read_text(), migrate=False)
    try:
        rows = repository.load_hours("synthetic", hour - timedelta(hours=1), hour + timedelta(hours=2))
    finally:
        repository.close()
    charged: dict[tuple[datetime, str], float] = {}
    for item in attribute(rows, mappings):
        if '"label_app_kubernetes_io_name":"apps-mover"' in item.row.pod_labels:
            key = (item.row.hour_start, item.team)
            charged[key] = charged.get(key, 0.0) + item.row.quantities.cpu_core_hours_max
    before, during, after = (hour + timedelta(hours=h) for h in (-1, 0, 1))
    assert {team for at, team in charged if at == before} == {"web"}
    assert {team for at, team in charged if at == after} == {"search"}
    web_share = charged[(during, "web")] / (charged[(during, "web")] + charged[(during, "search")])
    assert web_share == pytest.approx((relabelled % per_hour) / per_hour, abs=0.05)


def test_max_basis_charges_more_than_usage_or_request_alone(report_dir: Path, cluster_truth: Truth) -> None:
    totals = by_team(read_csv(report_dir / "chargeback.csv"))
    charged = sum(t["cpu_core_hours_charged"] for t in totals.values())
    usage = sum(t["cpu_core_hours_usage"] for t in totals.values())
    request = sum(t["cpu_core_hours_request"] for t in totals.values())
    assert charged > max(usage, request) * 1.02  # some containers burst, others idle: max per container matters


def test_coverage_is_the_attributed_share_of_charged_core_hours(report_dir: Path, cluster_truth: Truth) -> None:
    expected = cluster_truth.by_team(START, END)
    total = sum(t["cpu_core_hours_max"] for t in expected.values())
    want = 1 - expected["unallocated"]["cpu_core_hours_max"] / total
    summary = json.loads((report_dir / "chargeback.json").read_text())
    assert summary["coverage"] == pytest.approx(want, rel=0.01)
    assert 0.5 < summary["coverage"] < 1.0


def test_relabelled_namespace_is_split_by_the_hours_each_label_applied(report_dir: Path, cluster_truth: Truth) -> None:
    rows = {(r["team"], r["namespace"]): r for r in read_csv(report_dir / "chargeback.csv")}
    expected = {(owner, ns): 0.0 for (ns, _), owner in cluster_truth.owners.items() if ns == "ml-sandbox"}
    for (ns, hour), values in cluster_truth.values.items():
        if ns == "ml-sandbox" and START <= hour < END:
            expected[(cluster_truth.owners[(ns, hour)], ns)] += values["cpu_core_hours_max"]
    assert set(expected) == {("ml", "ml-sandbox"), ("data", "ml-sandbox")}
    for key, want in expected.items():
        assert float(rows[key]["cpu_core_hours_charged"]) == pytest.approx(want, rel=0.01)


def test_overlaps_are_settled_by_priority_then_exact_over_pattern(report_dir: Path) -> None:
    owners = {r["namespace"]: r["team"] for r in read_csv(report_dir / "chargeback.csv")}
    assert owners["shared-analytics"] == "data"  # data's selector (priority 10) beats web's "shared-*"
    assert owners["edge-gateway"] == "platform"  # platform's exact name beats web's "*-gateway" on a tie
    assert owners["shared-cdn"] == "web"
    assert owners["legacy-batch"] == "unallocated"


def _instant_sum(prometheus_url: str, query: str) -> float:
    """Sum of a range query over the period at a 1 h step: what a naive dashboard would add up."""
    answer = requests.post(
        f"{prometheus_url}/api/v1/query_range",
        data={"query": query, "start": START.timestamp() + 3600, "end": END.timestamp(), "step": 3600},
        timeout=60,
    ).json()
    assert answer["status"] == "success", answer
    return sum(float(v) for series in answer["data"]["result"] for _, v in series["values"])


def test_naive_cpu_query_without_container_filter_would_be_wrong(prometheus_url: str, cluster_truth: Truth) -> None:
    truth_usage = sum(t["cpu_core_hours_usage"] for t in cluster_truth.by_team(START, END).values())
    naive = _instant_sum(prometheus_url, "sum(increase(container_cpu_usage_seconds_total[1h])) / 3600")
    assert naive > 1.9 * truth_usage  # pod-level cgroup + pause series double it


def test_naive_memory_and_request_queries_would_be_wrong(prometheus_url: str, cluster_truth: Truth) -> None:
    truth = cluster_truth.by_team(START, END)
    memory = sum(t["memory_gib_hours_usage"] for t in truth.values())
    naive_memory = _instant_sum(
        prometheus_url, "sum(avg_over_time(container_memory_working_set_bytes[3599s])) / 1073741824"
    )
    assert naive_memory > 1.9 * memory
    requests_truth = sum(t["cpu_core_hours_request"] for t in truth.values())
    naive_requests = _instant_sum(
        prometheus_url, 'sum(avg_over_time(kube_pod_container_resource_requests{resource="cpu"}[3599s]))'
    )
    # A duplicate exporter, replica copies and non-Running pods inflate it; init containers and overhead are missing.
    assert abs(naive_requests / requests_truth - 1) > 0.1


def test_naive_queries_fall_into_the_node_level_and_resource_endpoint_traps(
    prometheus_url: str, cluster_truth: Truth
) -> None:
    truth = cluster_truth.by_team(START, END)
    usage = sum(t["cpu_core_hours_usage"] for t in truth.values())
    # The textbook query, container filter included, also adds the kubelet's /metrics/resource copies.
    textbook = 'sum(increase(container_cpu_usage_seconds_total{container!="", container!="POD"}[1h])) / 3600'
    assert _instant_sum(prometheus_url, textbook) > 1.9 * usage
    memory = sum(t["memory_gib_hours_usage"] for t in truth.values())
    textbook = 'sum(avg_over_time(container_memory_working_set_bytes{container!="", container!="POD"}[3599s]))'
    assert _instant_sum(prometheus_url, textbook + " / 1073741824") > 1.9 * memory
    # Network per namespace without `namespace!=""` gets a row for the node's own NICs, larger than all pods.
    network = sum(t["network_gib"] for t in truth.values())
    nameless = 'sum(increase(container_network_transmit_bytes_total{namespace=""}[1h])) / 1073741824'
    assert _instant_sum(prometheus_url, nameless) > network


def test_the_daily_csv_adds_up_to_the_period_and_each_day_matches_truth(report_dir: Path, cluster_truth: Truth) -> None:
    period = read_csv(report_dir / "chargeback.csv")
    daily = read_csv(report_dir / "chargeback-daily.csv")
    assert list(daily[0]) == list(period[0])  # the same columns
    days = sorted({row["period_start"] for row in daily})
    assert days == ["2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"]
    numeric = [
        column
        for column in period[0]
        if column.startswith(("cpu_", "memory_", "storage_", "network_", "cost_")) and column != "cost_center"
    ]
    for line in period:
        same = [row for row in daily if (row["team"], row["namespace"], row["cluster"]) == (line["team"],
                line["namespace"], line["cluster"])]  # fmt: skip
        assert same, line
        printed = 0.5e-9 * (len(same) + 1) + 1e-12  # the CSV prints 9 decimals: each value is within 0.5e-9
        for column in numeric:
            total = sum(float(row[column]) for row in same)
            assert total == pytest.approx(float(line[column]), rel=1e-9, abs=printed), (line["namespace"], column)
    for day in days:
        start = datetime.fromisoformat(day)
        rows = [row for row in daily if row["period_start"] == day]
        assert_teams_match_truth(rows, cluster_truth.by_team(start, start + timedelta(days=1)), day)
        assert_namespaces_within_band(rows, cluster_truth.band_by_namespace(start, start + timedelta(days=1)), day)
