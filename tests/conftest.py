"""Shared fixtures: one synthetic cluster with known truth, loaded into a real Prometheus per test session.

No fixture skips: a missing `prometheus` or `promtool` fails the run (CI installs them in `.ci/run`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from kubecharge.synthetic.local_prometheus import LocalPrometheus
from kubecharge.synthetic.model import Cluster, Size, Truth, build_cluster, truth
from tests.support.history import History
from tests.support.postgres import fresh_database, throwaway_postgres

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
def run_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The run's base folder, shared by the pytest-xdist workers (their own folders' parent): what is backfilled
    there is backfilled once per run."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def history(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, run_root: Path) -> History:
    """The cluster's history as blocks never served: each Prometheus of the tests serves a copy (some trimmed)."""
    return History.shared(cluster, tmp_path_factory.mktemp("history"), run_root / "session-history")


SEASONAL_START = datetime(2026, 9, 1, tzinfo=UTC)
SEASONAL_DAYS = 42


@pytest.fixture(scope="session")
def seasonal_cluster() -> Cluster:
    """Six weeks of the seasonal team (weekly patterns, a ramp, injected anomalies) beside the designed traps
    (without the designed namespaces' plain pods), scraped every 10 minutes: sized for the suite."""
    # Without runs shorter than the 10-minute scrape interval: the outlook is judged on costs, not on sampling; and
    # without the shared namespace, whose relabelled pod moves cost between web and search half-way.
    size = Size(pods_per_namespace=0, nodes=2, gpu_nodes=0, autoscaled_node=False, seasonal=True, short_lived=False,
                shared_namespace=False, rightsizing=False)  # fmt: skip
    return build_cluster(SEASONAL_START, days=SEASONAL_DAYS, step_seconds=600, size=size)


@pytest.fixture(scope="session")
def seasonal_truth(seasonal_cluster: Cluster) -> Truth:
    return truth(seasonal_cluster)


@pytest.fixture(scope="session")
def seasonal_history(seasonal_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, run_root: Path) -> History:
    return History.shared(seasonal_cluster, tmp_path_factory.mktemp("seasonal"), run_root / "seasonal-history",
                          hours_per_window=504)  # fmt: skip


@pytest.fixture(scope="session")
def prometheus(history: History) -> Iterator[LocalPrometheus]:
    server = history.serve()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus_url(prometheus: LocalPrometheus) -> str:
    return prometheus.url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server over real HTTP, with a plain bucket and one with Object Lock."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket="finance")
    client.create_bucket(Bucket="finance-locked", ObjectLockEnabledForBucket=True)
    yield endpoint
    server.stop()


@pytest.fixture
def aws(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The standard AWS environment pointing at the test S3 server (what a user's shell would have)."""
    environment = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "KUBECHARGE_S3_ENDPOINT_URL": s3_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind the storage code supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kubecharge.db'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(scope="session")
def mappings_file(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "teams.yaml"
    path.write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
    return path
