"""The same history in a real VictoriaMetrics (loaded through its import API) gives the same report as Prometheus:
every team within 0.5 % of the Prometheus report and within 1 % of the generator's truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubecharge.synthetic.model import Cluster, Truth
from tests.conftest import PERIOD, START
from tests.integration.test_accuracy import COLUMNS
from tests.support import by_team, read_csv, run_in_process
from tests.victoria import LocalVictoriaMetrics

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


def team_totals(url: str, mappings: Path, work: Path) -> dict[str, dict[str, float]]:
    code, output = run_in_process("report", "--prometheus", url, "--mappings", str(mappings), "--period", PERIOD,
                                  "--out", str(work / "out"), "--db", f"sqlite:///{work / 'k.db'}",
                                  "--cluster", "synthetic")  # fmt: skip
    assert code == 0, output
    return by_team(read_csv(work / "out" / "chargeback.csv"))


def test_victoriametrics_gives_the_prometheus_report_and_the_truth(
    victoria: str, prometheus_url: str, mappings_file: Path, tmp_path: Path, cluster_truth: Truth
) -> None:
    (tmp_path / "vm").mkdir()
    (tmp_path / "prom").mkdir()
    from_victoria = team_totals(victoria, mappings_file, tmp_path / "vm")
    from_prometheus = team_totals(prometheus_url, mappings_file, tmp_path / "prom")
    expected = cluster_truth.by_team(START, END)
    assert set(from_victoria) == set(from_prometheus) == set(expected)
    for team, values in from_victoria.items():
        for column, quantity in COLUMNS.items():
            assert values[column] == pytest.approx(from_prometheus[team][column], rel=0.005, abs=1e-6), (team, column)
            assert values[column] == pytest.approx(expected[team][quantity], rel=0.01, abs=1e-6), (team, column)
