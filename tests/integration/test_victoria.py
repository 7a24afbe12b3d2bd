"""The same history in a real VictoriaMetrics (loaded through its import API) gives the same report as Prometheus:
every team and namespace within 0.1 % of the Prometheus report (counters are differenced by kubecharge, never by the
backend's `increase`), every team within 1 % of the generator's truth and every namespace within its band."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubecharge.synthetic.model import Cluster, Truth
from tests.conftest import PERIOD, START
from tests.integration.test_accuracy import COLUMNS
from tests.support.reports import assert_namespaces_within_band, by_namespace, by_team, read_csv, run_in_process
from tests.support.victoria import LocalVictoriaMetrics

END = START.replace(day=3)


@pytest.fixture(scope="module")
def victoria(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LocalVictoriaMetrics(tmp_path_factory.mktemp("victoria"))
    server.start()
    try:
        server.load(cluster)
        yield server.url
    finally:
        server.stop()


def report_rows(url: str, mappings: Path, work: Path) -> list[dict[str, str]]:
    code, output = run_in_process("report", "--prometheus", url, "--mappings", str(mappings), "--period", PERIOD,
                                  "--out", str(work / "out"), "--db", f"sqlite:///{work / 'k.db'}",
                                  "--cluster", "synthetic")  # fmt: skip
    assert code == 0, output
    return read_csv(work / "out" / "chargeback.csv")


def test_victoriametrics_gives_the_prometheus_report_and_the_truth(
    victoria: str, prometheus_url: str, mappings_file: Path, tmp_path: Path, cluster_truth: Truth
) -> None:
    (tmp_path / "vm").mkdir()
    (tmp_path / "prom").mkdir()
    victoria_rows = report_rows(victoria, mappings_file, tmp_path / "vm")
    prometheus_rows = report_rows(prometheus_url, mappings_file, tmp_path / "prom")
    for grain, group in (("team", by_team), ("namespace", by_namespace)):
        from_victoria, from_prometheus = group(victoria_rows), group(prometheus_rows)
        assert set(from_victoria) == set(from_prometheus)
        for key, values in from_victoria.items():
            for column in COLUMNS:
                assert values[column] == pytest.approx(from_prometheus[key][column], rel=0.001, abs=1e-6), (
                    grain, key, column)  # fmt: skip
    expected = cluster_truth.by_team(START, END)
    teams = by_team(victoria_rows)
    assert set(teams) == set(expected)
    for team, values in teams.items():
        for column, quantity in COLUMNS.items():
            assert values[column] == pytest.approx(expected[team][quantity], rel=0.01, abs=1e-6), (team, column)
    band = cluster_truth.band_by_namespace(START, END)
    assert assert_namespaces_within_band(victoria_rows, band, "VictoriaMetrics") >= 26
    assert assert_namespaces_within_band(prometheus_rows, band, "Prometheus") >= 26
