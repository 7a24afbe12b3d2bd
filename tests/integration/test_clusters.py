"""Two clusters (different seeds, the same namespace names and node IPs) in one Prometheus, told apart by their
`cluster` label: per-cluster and combined reports within 1 % of each cluster's truth, never mixing them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Truth, build_cluster, truth
from tests.conftest import START
from tests.integration.test_accuracy import COLUMNS
from tests.support import read_csv, run_cli

DAY = "2026-10-01"
END = START + timedelta(days=1)
ONLY_EAST = "identity"  # this team's mapping applies in east only: its namespaces in west are nobody's


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Cluster], str, Path]]:
    work = tmp_path_factory.mktemp("two-clusters")
    built = {}
    for name, seed in (("east", 7), ("west", 23)):
        cluster = build_cluster(START, days=1, step_seconds=60, seed=seed)
        cluster.cluster_name, cluster.external_labels = name, {"cluster": name}
        backfill(cluster, work / "tsdb", work / f"scratch-{name}")
        built[name] = cluster
    mappings = copy.deepcopy(built["east"].team_mappings)
    for mapping in mappings:
        if mapping["spec"]["team"] == ONLY_EAST:  # type: ignore[index]
            mapping["spec"]["clusters"] = ["east"]  # type: ignore[index]
    (work / "teams.yaml").write_text(yaml.safe_dump_all(mappings, sort_keys=False))
    with LocalPrometheus(work / "tsdb") as server:
        yield built, server.url, work / "teams.yaml"


def expected(cluster: Cluster) -> dict[str, dict[str, float]]:
    """The cluster's truth by team, with the east-only mapping claiming nothing in west."""
    model: Truth = truth(cluster)
    if cluster.cluster_name != "east":
        model.owners = {key: "unallocated" if team == ONLY_EAST else team for key, team in model.owners.items()}
    return model.by_team(START, END)


def report(url: str, mappings: Path, out: Path, *selection: str) -> list[dict[str, str]]:
    out.mkdir()
    result = run_cli("report", "--prometheus", url, "--mappings", str(mappings), "--period", DAY,
                     "--out", str(out / "report"), "--db", f"sqlite:///{out / 'k.db'}", *selection)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return read_csv(out / "report" / "chargeback.csv")


def by_cluster_team(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, float]]:
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        into = totals.setdefault((row["cluster"], row["team"]), {})
        for column in COLUMNS:
            into[column] = into.get(column, 0.0) + float(row[column])
    return totals


def assert_cluster_matches_truth(measured: dict[tuple[str, str], dict[str, float]], cluster: Cluster) -> None:
    want = expected(cluster)
    got = {team: values for (name, team), values in measured.items() if name == cluster.cluster_name}
    assert set(got) == {team for team, values in want.items() if any(values.values())}
    for team, values in got.items():
        for column, quantity in COLUMNS.items():
            assert values[column] == pytest.approx(want[team][quantity], rel=0.01, abs=1e-6), (team, column)


def test_one_cluster_of_two_is_reported_alone(clusters: tuple[dict[str, Cluster], str, Path], tmp_path: Path) -> None:
    built, url, mappings = clusters
    rows = report(url, mappings, tmp_path / "east", "--cluster", "east")
    assert {row["cluster"] for row in rows} == {"east"}
    assert_cluster_matches_truth(by_cluster_team(rows), built["east"])


def test_both_clusters_in_one_report_never_mix_same_named_namespaces(
    clusters: tuple[dict[str, Cluster], str, Path], tmp_path: Path
) -> None:
    built, url, mappings = clusters
    rows = report(url, mappings, tmp_path / "both", "--cluster", "east", "--cluster", "west")
    measured = by_cluster_team(rows)
    for cluster in built.values():
        assert_cluster_matches_truth(measured, cluster)
    payments = [row for row in rows if row["namespace"] == "payments-api"]
    assert sorted(row["cluster"] for row in payments) == ["east", "west"]  # two clusters' namespaces: two lines
    assert payments[0]["cpu_core_hours_charged"] != payments[1]["cpu_core_hours_charged"]
    owners = {(row["cluster"], row["namespace"]): row["team"] for row in rows}
    assert (owners[("east", "identity")], owners[("west", "identity")]) == (ONLY_EAST, "unallocated")
    every = report(url, mappings, tmp_path / "all", "--all-clusters")
    assert every == rows


def test_without_the_cluster_label_the_usual_queries_fail_or_mix(
    clusters: tuple[dict[str, Cluster], str, Path],
) -> None:
    _, url, _ = clusters
    # Both clusters' kubelets share IP addresses: dividing by `up` on the instance finds two series per instance.
    answer = requests.post(f"{url}/api/v1/query_range", timeout=60, data={
        "query": 'sum_over_time(container_memory_working_set_bytes{job="kubelet", container!=""}[3599s]) / on '
                 '(instance) group_left () sum_over_time(up{job="kubelet", metrics_path="/metrics/cadvisor"}[3599s])',
        "start": START.timestamp() + 3600, "end": END.timestamp(), "step": 3600}).json()  # fmt: skip
    assert answer["status"] == "error", answer
    assert "duplicate series" in answer["error"]


def test_an_unknown_cluster_is_one_message_naming_the_known_ones(
    clusters: tuple[dict[str, Cluster], str, Path], tmp_path: Path
) -> None:
    _, url, mappings = clusters
    database = f"sqlite:///{tmp_path / 'k.db'}"
    result = run_cli("report", "--prometheus", url, "--mappings", str(mappings), "--period", DAY,
                     "--out", str(tmp_path / "out"), "--db", database, "--cluster", "north")  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "north" in lines[0]
    assert "east, west" in lines[0]
    assert not (tmp_path / "out").exists()
