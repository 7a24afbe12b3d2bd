"""The operator reporting on two clusters of one Prometheus (UsageReport spec.clusters): one ConfigMap with a line
per team, cluster and namespace, each cluster within 1 % of its truth; a TeamMapping limited to the other cluster
claims nothing in the operator's own."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubecharge.settings import Settings
from kubecharge.store import schema
from kubecharge.synthetic.local_prometheus import free_port
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, OperatorThread, wait_for
from tests.support.reports import assert_teams_match_truth
from tests.support.two_clusters import ONLY_EAST, TwoClusters, two_clusters

START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 2, 6, tzinfo=UTC)  # the 1st is complete and settled


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, run_root: Path) -> Iterator[tuple[Kube, TwoClusters]]:
    work = tmp_path_factory.mktemp("operator-clusters")
    with two_clusters(START, work, run_root / "two-clusters") as data, running_emulator() as (_, url):
        kube = Kube(url)
        west = data.clusters["west"]
        for namespace in west.namespaces:
            kube.namespace(namespace.name, namespace.labels_at(west.slots - 1))
        kube.namespace("finops", {})
        for mapping in data.mappings:
            kube.apply_mapping(dict(mapping))
        settings = Settings(
            kube_api_url=url, prometheus_url=data.url, database_url=f"sqlite:///{work / 'k.db'}",
            cluster_name="west", report_interval_seconds=2, mapping_interval_seconds=1, retry_delay_seconds=1,
            retry_max_delay_seconds=2, metrics_port=free_port(), liveness_port=free_port(), standalone=True,
        )  # fmt: skip
        schema.upgrade(settings.database_url)
        thread = OperatorThread(settings, clock=lambda: NOW).start()
        try:
            yield kube, data
        finally:
            thread.stop()


def lines(kube: Kube) -> list[dict[str, str]] | None:
    found = kube.configmaps("finops", "both").get("both-2026-10-01")
    return list(csv.DictReader(found.data["chargeback.csv"].splitlines())) if found is not None else None


def test_a_report_over_two_clusters_charges_each_its_own(setup: tuple[Kube, TwoClusters]) -> None:
    kube, data = setup
    kube.apply_report("finops", {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                 "metadata": {"name": "both", "namespace": "finops"},
                                 "spec": {"period": "daily", "clusters": ["east", "west"]}})  # fmt: skip
    rows = wait_for(lambda: lines(kube), what="the two-cluster ConfigMap")
    for name in ("east", "west"):
        expected = data.expected(name, START, START + timedelta(days=1))
        assert_teams_match_truth([row for row in rows if row["cluster"] == name], expected, name)


def test_a_mapping_limited_to_another_cluster_claims_nothing_here(setup: tuple[Kube, TwoClusters]) -> None:
    kube, data = setup
    (name,) = [str(m["metadata"]["name"]) for m in data.mappings if m["spec"]["team"] == ONLY_EAST]  # type: ignore[index]

    def status() -> dict[str, Any] | None:
        found = kube.mapping(name).get("status")
        return found if found and "matchedNamespaces" in found else None

    assert wait_for(status, what="the mapping's status")["matchedNamespaces"] == []
