"""Benchmark: a month of one cluster and of two, with 1 and 4 concurrent requests, against the floor.

    python -m benchmarks.clusters_month --namespaces 50 --pods-per-namespace 20 --days 30 --step 300 --keep DIR

Two synthetic clusters (different seeds, the same namespace names and node IPs, a `cluster` label on every series)
are backfilled into one Prometheus. For one cluster (`--cluster east`) and for both, the floor is the minimal
correct Prometheus work for that report: every query of kubecharge's QuerySet for each cluster, one day per
request, one request at a time, each answer read to the end and nothing else done with it (after a warm-up
pass, so everything finds the TSDB in the page cache). Then `kubecharge report` runs for the month into an empty
ledger in a child process with KUBECHARGE_PROMETHEUS_CONCURRENCY=1 and =4, its peak RSS and Prometheus' sampled.
Prometheus runs with its default query limits. `--keep DIR` keeps (and reuses) the generated TSDB; an interrupted
backfill resumes at its first unfinished day (a 30-day month of two 1,000-pod clusters is about 7 GB of
OpenMetrics per cluster-day, over an hour of promtool here).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from benchmarks.measure import Shape, floor, month_main, report_in_child
from kubecharge.collect import promql
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, build_cluster

START = datetime(2026, 10, 1, tzinfo=UTC)
CLUSTERS = (("east", 7), ("west", 23))


def cluster_queries(names: list[str], interval: int) -> list[promql.QuerySet]:
    """kubecharge's query set for each cluster (its label as matcher), at the history's scrape interval."""
    base = QuerySettings(state_metrics_interval_seconds=interval)
    return [promql.build(promql.for_cluster(base, {"cluster": name})) for name in names]


def _backfill_one(cluster: Cluster, work: Path) -> None:
    name = cluster.cluster_name

    def progress(done: int, total: int) -> None:
        print(f"  {name}: backfilled window {done}/{total}", file=sys.stderr, flush=True)

    backfill(cluster, work / f"tsdb-{name}", work / f"scratch-{name}", on_window=progress, resume=True)


def ensure_history(clusters: list[Cluster], work: Path) -> float:
    """Both clusters backfilled at once (one process each), their blocks then served from one TSDB."""
    tsdb = work / "tsdb"
    if tsdb.is_dir() and any(tsdb.iterdir()):
        return 0.0
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=len(clusters)) as pool:
        for done in [pool.submit(_backfill_one, cluster, work) for cluster in clusters]:
            done.result()
    tsdb.mkdir(parents=True, exist_ok=True)
    for cluster in clusters:
        for block in (work / f"tsdb-{cluster.cluster_name}").iterdir():
            block.rename(tsdb / block.name)
    return time.perf_counter() - began


def settle(tsdb: Path, quiet_seconds: float = 60.0) -> float:
    """Wait until Prometheus has finished merging the two clusters' overlapping blocks (no block appears or goes
    for `quiet_seconds`): compaction must not run during the measurements."""
    began = last_change = time.perf_counter()
    blocks = sorted(p.name for p in tsdb.glob("*/meta.json"))
    while time.perf_counter() - last_change < quiet_seconds:
        time.sleep(5)
        now = sorted(p.name for p in tsdb.glob("*/meta.json"))
        if now != blocks:
            blocks, last_change = now, time.perf_counter()
    return time.perf_counter() - began


def run(shape: Shape, work: Path) -> dict[str, Any]:
    size, days, step = shape.size(), shape.days, shape.step_seconds
    clusters = []
    for name, seed in CLUSTERS:
        cluster = build_cluster(START, days=days, step_seconds=step, seed=seed, size=size)
        cluster.cluster_name, cluster.external_labels = name, {"cluster": name}
        clusters.append(cluster)
    backfill_seconds = ensure_history(clusters, work)
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(clusters[0].team_mappings))
    end = START + timedelta(days=days)
    period = f"{START:%Y-%m-%d}/{end:%Y-%m-%d}"
    result: dict[str, Any] = {
        "namespaces_per_cluster": len(clusters[0].namespaces),
        "pods_per_cluster": len(clusters[0].pods),
        "days": days,
        "step_seconds": step,
        "backfill_seconds": round(backfill_seconds, 1),
    }
    with LocalPrometheus(work / "tsdb") as prometheus:
        result["compaction_wait_seconds"] = round(settle(work / "tsdb"), 1)
        for names in (["east"], ["east", "west"]):
            label = f"{len(names)}_cluster"
            queries = cluster_queries(names, step)
            floor(prometheus.url, queries, START, end)  # warm-up: the runs below all find the page cache warm
            floor_run = floor(prometheus.url, queries, START, end)
            result[f"{label}_floor_seconds"] = round(floor_run["seconds"], 2)
            result[f"{label}_floor_requests"] = floor_run["requests"]
            result[f"{label}_floor_samples"] = floor_run["samples"]
            for concurrency in (1, 4):
                database = work / f"ledger-{label}-{concurrency}.db"
                database.unlink(missing_ok=True)
                os.environ["KUBECHARGE_PROMETHEUS_CONCURRENCY"] = str(concurrency)
                args = ["--prometheus", prometheus.url, "--mappings", str(mappings), "--period", period,
                        "--db", f"sqlite:///{database}", "--out", str(work / f"out-{label}-{concurrency}")]  # fmt: skip
                for name in names:
                    args += ["--cluster", name]
                child = report_in_child(prometheus, args)
                key = f"{label}_concurrency_{concurrency}"
                result[f"{key}_seconds"] = round(child["wall_seconds"], 2)
                result[f"{key}_vs_floor"] = round(child["wall_seconds"] / floor_run["seconds"], 3)
                result[f"{key}_kubecharge_peak_rss_mib"] = child["kubecharge_peak_rss_mib"]
                result[f"{key}_prometheus_peak_rss_mib"] = child["prometheus_peak_rss_mib"]
                result[f"{key}_total_cost"] = child["total_cost"]
    return result


def main() -> None:
    month_main(run, __doc__)


if __name__ == "__main__":
    main()
