"""Benchmark: what full-cost allocation (node prices, idle, shared costs) adds to a report, against the floor.

    python -m benchmarks.full_cost --namespaces 50 --pods-per-namespace 20 --days 7 --step 300 --keep DIR

The floor is the minimal correct Prometheus work for the report, measured in the same run: every query of its
QuerySet (the node and GPU questions included), one day per request, one request at a time, each answer read to
the end and nothing else done with it (after a warm-up pass). Then, each in a child process whose peak RSS is
sampled with Prometheus':
- `full_empty`: a full-cost report (every node priced by a rule, idle shown, two shared namespaces) into a new
  database: every hour and every node-hour comes from Prometheus;
- `direct_warm` and `full_warm`: the direct and the full-cost report again on that ledger (nothing to ask): what
  pricing every node-hour, settling and allocating costs on top of the direct charges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.ledger_month import ensure_history
from benchmarks.measure import Shape, floor, month_main, report_in_child
from kubecharge.collect.promql import build as build_queries
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus
from kubecharge.synthetic.model import InstanceType, Node, build_cluster

START = datetime(2026, 10, 1, tzinfo=UTC)


def listed(instance: InstanceType) -> float:
    return instance.cpu_cores * 0.031611 + instance.memory_bytes / 2**30 * 0.004237 + instance.gpus * 0.95


def full_cost_report(path: Path, cluster_nodes: list[Node]) -> Path:
    """Every instance and capacity type of the cluster priced per hour (at 0.9 × its capacity's list value)."""
    kinds = sorted({(node.instance, node.capacity_type) for node in cluster_nodes}, key=lambda k: (k[0].name, k[1]))
    rules = [{"match": {"instanceType": instance.name, "capacityType": capacity},
              "hourly": f"{0.9 * listed(instance):.4f}"} for instance, capacity in kinds]  # fmt: skip
    path.write_text(yaml.safe_dump({
        "apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport", "metadata": {"name": "bench"},
        "spec": {"pricing": {"nodes": rules},
                 "costModel": {"idle": "show", "shared": {"namespaces": ["monitoring", "kube-system"]}}},
    }))  # fmt: skip
    return path


def run(shape: Shape, work: Path) -> dict[str, Any]:
    size, days, step = shape.size(), shape.days, shape.step_seconds
    cluster = build_cluster(START, days=days, step_seconds=step, size=size)
    backfill_seconds = ensure_history(cluster, work)
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    report = full_cost_report(work / "full-cost.yaml", cluster.nodes)
    end = START + timedelta(days=days)
    database = work / "ledger.db"
    database.unlink(missing_ok=True)
    common = ["--mappings", str(mappings), "--period", f"{START:%Y-%m-%d}/{end:%Y-%m-%d}", "--db",
              f"sqlite:///{database}"]  # fmt: skip
    with LocalPrometheus(work / "tsdb") as prometheus:
        assert prometheus.process is not None
        idle_mib = psutil.Process(prometheus.process.pid).memory_info().rss / 2**20
        base = ["--prometheus", prometheus.url, *common]
        queries = [build_queries(QuerySettings(state_metrics_interval_seconds=step))]
        floor(prometheus.url, queries, START, end)  # warms Prometheus' page cache for all runs below
        floor_run = floor(prometheus.url, queries, START, end)
        full_empty = report_in_child(prometheus, [*base, "--out", str(work / "full-empty"), "--report", str(report)])
        direct_warm = report_in_child(prometheus, [*base, "--out", str(work / "direct-warm")])
        full_warm = report_in_child(prometheus, [*base, "--out", str(work / "full-warm"), "--report", str(report)])
    return {
        "namespaces": len(cluster.namespaces),
        "pods": len(cluster.pods),
        "nodes": len(cluster.nodes),
        "days": days,
        "step_seconds": step,
        "backfill_seconds": round(backfill_seconds, 1),
        "prometheus_idle_rss_mib": round(idle_mib, 1),
        "floor_seconds": round(floor_run["seconds"], 2),
        "floor_requests": floor_run["requests"],
        "floor_samples": floor_run["samples"],
        "full_empty_seconds": round(full_empty["wall_seconds"], 2),
        "full_empty_vs_floor": round(full_empty["wall_seconds"] / floor_run["seconds"], 3),
        "full_empty_kubecharge_peak_rss_mib": full_empty["kubecharge_peak_rss_mib"],
        "full_empty_prometheus_peak_rss_mib": full_empty["prometheus_peak_rss_mib"],
        "direct_warm_seconds": round(direct_warm["wall_seconds"], 2),
        "full_warm_seconds": round(full_warm["wall_seconds"], 2),
        "full_warm_vs_direct_warm": round(full_warm["wall_seconds"] / direct_warm["wall_seconds"], 3),
        "full_warm_kubecharge_peak_rss_mib": full_warm["kubecharge_peak_rss_mib"],
        "direct_warm_kubecharge_peak_rss_mib": direct_warm["kubecharge_peak_rss_mib"],
        "full_total_cost": full_empty["total_cost"],
        "same_full_total_cold_and_warm": full_empty["total_cost"] == full_warm["total_cost"],
    }


def main() -> None:
    month_main(run, __doc__)


if __name__ == "__main__":
    main()
