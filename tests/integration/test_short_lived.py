"""Runs shorter than an hour that start and end between scrapes (the generator's `batch-hourly` namespace: 30 s,
2-5 min, 10-minute CronJob runs a few seconds after the fifth minute, 50 min), at 15 and 30 s scrape intervals
(60 s is the session cluster's, judged in `test_accuracy`). Every namespace of the report is judged against the band
its samples allow (`Truth.low` / `Truth.high`, see `model._exact_run`), and the band is shown narrow enough that
charging each run's request for one more scrape interval would fall outside it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Size, Truth, build_cluster, truth
from tests.conftest import START
from tests.support.reports import assert_namespaces_within_band, by_namespace, read_csv, run_in_process

HOURS = 12
END = START + timedelta(hours=HOURS)
SMALL = Size(pods_per_namespace=1, nodes=3, gpu_nodes=0, autoscaled_node=False)


@pytest.fixture(scope="module", params=[15, 30], ids=["15s", "30s"])
def scraped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cluster, Truth, Path]:
    """A half-day cluster scraped every 15 or 30 s, backfilled into its own Prometheus, and its report."""
    cluster = build_cluster(START, days=HOURS / 24, step_seconds=request.param, size=SMALL)
    work = tmp_path_factory.mktemp(f"short-lived-{request.param}s")
    backfill(cluster, work / "tsdb", work / "scratch", hours_per_window=HOURS)
    (work / "teams.yaml").write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
    with LocalPrometheus(work / "tsdb") as server:
        code, output = run_in_process(
            "report", "--prometheus", server.url, "--mappings", str(work / "teams.yaml"),
            "--period", f"{START:%Y-%m-%dT%H:%MZ}/{END:%Y-%m-%dT%H:%MZ}", "--out", str(work / "out"),
            "--db", f"sqlite:///{work / 'k.db'}", "--cluster", "synthetic",
        )  # fmt: skip
    assert code == 0, output
    return cluster, truth(cluster), work / "out"


def test_the_cluster_has_runs_between_scrapes_of_every_length(scraped: tuple[Cluster, Truth, Path]) -> None:
    cluster, _, _ = scraped
    runs = [p.exact_seconds for p in cluster.pods if p.exact_seconds is not None]
    lengths = sorted(end - begin for begin, end in runs)
    assert lengths[0] == pytest.approx(30.0)
    assert any(120 <= length <= 300 for length in lengths)
    assert any(585 <= length <= 615 for length in lengths)
    assert lengths[-1] >= 2970
    # Starts fall between scrapes, not on them.
    offsets = {round(begin % cluster.step_seconds, 1) for begin, _ in runs}
    assert len(offsets) > len(runs) // 2


def test_every_namespace_is_within_the_band_its_samples_allow(scraped: tuple[Cluster, Truth, Path]) -> None:
    _, cluster_truth, out = scraped
    rows = read_csv(out / "chargeback.csv")
    assert assert_namespaces_within_band(rows, cluster_truth.band_by_namespace(START, END)) >= 20


def test_one_more_scrape_interval_per_run_would_fail(scraped: tuple[Cluster, Truth, Path]) -> None:
    """The check has the power to catch the over-charge it exists for: the report's requests of the short-lived
    namespace plus one scrape interval per run lie outside the band."""
    cluster, cluster_truth, out = scraped
    band = cluster_truth.band_by_namespace(START, END)["batch-hourly"]
    measured = by_namespace(read_csv(out / "chargeback.csv"))["batch-hourly"]
    runs = [p for p in cluster.pods if p.exact_seconds is not None and p.namespace == "batch-hourly"]
    interval_hours = cluster.step_seconds / 3600
    for column, field in (("cpu_core_hours_request", "cpu_request_cores"),
                          ("memory_gib_hours_request", "memory_request_bytes")):  # fmt: skip
        unit = 1.0 if field.startswith("cpu") else 2**30
        extra = sum(float(getattr(c, field) or 0.0) / unit * interval_hours for p in runs for c in p.containers)
        low, high = band[column]
        assert low * 0.99 <= measured[column] <= high * 1.01
        assert measured[column] + extra > high * 1.01, (column, measured[column], extra, high)
