"""Two synthetic clusters (different seeds, the same namespace names and node IPs) in one Prometheus, each series
carrying its `cluster` label; the `identity` mapping applies in east only."""

from __future__ import annotations

import copy
import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Size, build_cluster, truth

ONLY_EAST = "identity"  # this team's mapping applies in east only: its namespaces in west are nobody's


@dataclass
class TwoClusters:
    clusters: dict[str, Cluster]
    url: str
    mappings_file: Path
    mappings: list[dict[str, object]]

    def expected(self, name: str, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        """A cluster's truth by team, with the east-only mapping claiming nothing in west."""
        found = truth(self.clusters[name]).by_team(start, end)
        if name != "east" and ONLY_EAST in found:
            into = found.setdefault("unallocated", {})
            for quantity, value in found.pop(ONLY_EAST).items():
                into[quantity] = into.get(quantity, 0.0) + value
        return found


@contextmanager
def two_clusters(start: datetime, work: Path, shared: Path, days: float = 1) -> Iterator[TwoClusters]:
    """The two clusters in a Prometheus of their own. Their blocks are backfilled once per test run into `shared`
    (by whichever pytest-xdist worker gets there first, under a lock) and each caller serves a copy."""
    built = {}
    for name, seed in (("east", 7), ("west", 23)):
        # Node pools (GPUs, an autoscaled node) are not what two clusters check: fewer series to backfill.
        cluster = build_cluster(
            start, days=days, step_seconds=60, seed=seed, size=Size(gpu_nodes=0, autoscaled_node=False)
        )
        cluster.cluster_name, cluster.external_labels = name, {"cluster": name}
        built[name] = cluster
    shared = shared / f"{start:%Y%m%d}-{days}"
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            for name, cluster in built.items():
                backfill(cluster, shared / "pristine", shared / f"scratch-{name}")
            (shared / "done").touch()
    shutil.copytree(shared / "pristine", work / "tsdb")
    mappings = copy.deepcopy(built["east"].team_mappings)
    for mapping in mappings:
        if mapping["spec"]["team"] == ONLY_EAST:  # type: ignore[index]
            mapping["spec"]["clusters"] = ["east"]  # type: ignore[index]
    (work / "teams.yaml").write_text(yaml.safe_dump_all(mappings, sort_keys=False))
    with LocalPrometheus(work / "tsdb") as server:
        yield TwoClusters(built, server.url, work / "teams.yaml", mappings)
