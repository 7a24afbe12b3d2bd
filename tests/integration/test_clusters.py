"""Two clusters (different seeds, the same namespace names and node IPs) in one Prometheus, told apart by their
`cluster` label: per-cluster and combined reports within 1 % of each cluster's truth, never mixing them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.conftest import START
from tests.integration.test_accuracy import COLUMNS
from tests.support.reports import read_csv, run_cli
from tests.support.two_clusters import ONLY_EAST, TwoClusters, two_clusters

DAY = "2026-10-01"
END = START + timedelta(days=1)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory, run_root: Path) -> Iterator[TwoClusters]:
    with two_clusters(START, tmp_path_factory.mktemp("two-clusters"), run_root / "two-clusters") as setup:
        yield setup


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


def assert_cluster_matches_truth(
    measured: dict[tuple[str, str], dict[str, float]], setup: TwoClusters, name: str
) -> None:
    want = setup.expected(name, START, END)
    got = {team: values for (cluster, team), values in measured.items() if cluster == name}
    assert set(got) == {team for team, values in want.items() if any(values.values())}
    for team, values in got.items():
        for column, quantity in COLUMNS.items():
            assert values[column] == pytest.approx(want[team][quantity], rel=0.01, abs=1e-6), (team, column)


def test_one_cluster_of_two_is_reported_alone(clusters: TwoClusters, tmp_path: Path) -> None:
    url, mappings = clusters.url, clusters.mappings_file
    rows = report(url, mappings, tmp_path / "east", "--cluster", "east")
    assert {row["cluster"] for row in rows} == {"east"}
    assert_cluster_matches_truth(by_cluster_team(rows), clusters, "east")


def test_both_clusters_in_one_report_never_mix_same_named_namespaces(clusters: TwoClusters, tmp_path: Path) -> None:
    url, mappings = clusters.url, clusters.mappings_file
    rows = report(url, mappings, tmp_path / "both", "--cluster", "east", "--cluster", "west")
    measured = by_cluster_team(rows)
    for name in clusters.clusters:
        assert_cluster_matches_truth(measured, clusters, name)
    payments = [row for row in rows if row["namespace"] == "payments-api"]
    assert sorted(row["cluster"] for row in payments) == ["east", "west"]  # two clusters' namespaces: two lines
    assert payments[0]["cpu_core_hours_charged"] != payments[1]["cpu_core_hours_charged"]
    owners = {(row["cluster"], row["namespace"]): row["team"] for row in rows}
    assert (owners[("east", "identity")], owners[("west", "identity")]) == (ONLY_EAST, "unallocated")
    every = report(url, mappings, tmp_path / "all", "--all-clusters")
    assert every == rows


def test_without_the_cluster_label_the_usual_queries_fail_or_mix(
    clusters: TwoClusters,
) -> None:
    url = clusters.url
    # Both clusters' kubelets share IP addresses: dividing by `up` on the instance finds two series per instance.
    answer = requests.post(f"{url}/api/v1/query_range", timeout=60, data={
        "query": 'sum_over_time(container_memory_working_set_bytes{job="kubelet", container!=""}[3599s]) / on '
                 '(instance) group_left () sum_over_time(up{job="kubelet", metrics_path="/metrics/cadvisor"}[3599s])',
        "start": START.timestamp() + 3600, "end": END.timestamp(), "step": 3600}).json()  # fmt: skip
    assert answer["status"] == "error", answer
    assert "duplicate series" in answer["error"]


def test_an_unknown_cluster_is_one_message_naming_the_known_ones(clusters: TwoClusters, tmp_path: Path) -> None:
    url, mappings = clusters.url, clusters.mappings_file
    database = f"sqlite:///{tmp_path / 'k.db'}"
    result = run_cli("report", "--prometheus", url, "--mappings", str(mappings), "--period", DAY,
                     "--out", str(tmp_path / "out"), "--db", database, "--cluster", "north")  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "north" in lines[0]
    assert "east, west" in lines[0]
    assert not (tmp_path / "out").exists()
