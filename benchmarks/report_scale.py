"""Benchmark: how a report's cost grows with pods — kubecharge's time and memory, and Prometheus' memory.

    python -m benchmarks.report_scale --namespaces 50 --pods 1000 --days 7 --step 300

Generates the synthetic cluster window by window (a month of 1,000 pods is ~90 GB of OpenMetrics text,
so it never exists on disk at once), backfills it with promtool, starts a private Prometheus, then runs
`kubecharge report` in a child process while sampling both processes' resident memory every 50 ms.
Prints wall time, the share of it spent waiting on Prometheus, and both peak RSS figures.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from benchmarks.measure import DESIGNED_NAMESPACES, report_in_child
from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Size, build_cluster

START = datetime(2026, 10, 1, tzinfo=UTC)


def run(namespaces: int, pods: int, days: int, step: int, work: Path) -> dict[str, float]:
    extra = max(0, namespaces - DESIGNED_NAMESPACES)
    cluster = build_cluster(
        START,
        days=days,
        step_seconds=step,
        size=Size(extra_namespaces=extra, pods_per_namespace=math.ceil(pods / namespaces)),
    )
    began = time.perf_counter()
    backfill(
        cluster,
        work / "tsdb",
        work / "scratch",
        on_window=lambda d, n: print(f"  backfilled window {d}/{n}", file=sys.stderr, flush=True),
    )
    backfill_seconds = time.perf_counter() - began
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    period = f"{START:%Y-%m-%d}/{START + timedelta(days=days):%Y-%m-%d}"
    with LocalPrometheus(work / "tsdb") as prometheus:
        assert prometheus.process is not None
        prometheus_idle = psutil.Process(prometheus.process.pid).memory_info().rss
        timings = report_in_child(prometheus, [
            "--prometheus", prometheus.url, "--mappings", str(mappings), "--period", period,
            "--out", str(work / "out"), "--db", f"sqlite:///{work / 'bench.db'}",
        ])  # fmt: skip
    return {
        "namespaces": len(cluster.namespaces),
        "pods": len(cluster.pods),
        "days": days,
        "step_seconds": step,
        "backfill_seconds": round(backfill_seconds, 1),
        "report_wall_seconds": round(timings["wall_seconds"], 2),
        "prometheus_share": round(timings["prometheus_seconds"] / timings["wall_seconds"], 3),
        "kubecharge_peak_rss_mib": timings["kubecharge_peak_rss_mib"],
        "prometheus_peak_rss_mib": timings["prometheus_peak_rss_mib"],
        "prometheus_idle_rss_mib": round(prometheus_idle / 2**20, 1),
        "hours_queried": timings["hours_queried"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--pods", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--step", type=int, default=300)
    args = parser.parse_args()
    for pods in args.pods:
        work = Path(tempfile.mkdtemp(prefix="kubecharge-bench-"))
        try:
            print(json.dumps(run(args.namespaces, pods, args.days, args.step, work)), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
