"""Shared fixtures: one synthetic cluster with known truth, loaded into a real Prometheus per test session.

No fixture skips: a missing `prometheus` or `promtool` fails the run (CI installs them in `.ci/run`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Truth, build_cluster, truth

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 2
PERIOD = "2026-10-01/2026-10-03"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return build_cluster(START, days=DAYS, step_seconds=60)


@pytest.fixture(scope="session")
def cluster_truth(cluster: Cluster) -> Truth:
    return truth(cluster)


@pytest.fixture(scope="session")
def prometheus(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    work = tmp_path_factory.mktemp("prometheus")
    backfill(cluster, work / "tsdb", work / "scratch")
    with LocalPrometheus(work / "tsdb") as server:
        yield server


@pytest.fixture(scope="session")
def prometheus_url(prometheus: LocalPrometheus) -> str:
    return prometheus.url


@pytest.fixture(scope="session")
def mappings_file(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "teams.yaml"
    path.write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
    return path
