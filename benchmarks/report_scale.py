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
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Size, build_cluster

DESIGNED_NAMESPACES = 25
START = datetime(2026, 10, 1, tzinfo=UTC)


class PeakRss:
    """Samples a process' RSS in a thread; `.peak_bytes` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


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
        prometheus_rss = PeakRss(prometheus.process.pid)
        prometheus_idle = psutil.Process(prometheus.process.pid).memory_info().rss
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.report_child",
                *("--prometheus", prometheus.url, "--mappings", str(mappings), "--period", period),
                *("--out", str(work / "out"), "--db", f"sqlite:///{work / 'bench.db'}"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        kubecharge_rss = PeakRss(child.pid)
        stdout, _ = child.communicate()
        kubecharge_peak = kubecharge_rss.stop()
        prometheus_peak = prometheus_rss.stop()
    if child.returncode != 0:
        raise SystemExit(f"report failed with exit {child.returncode}")
    timings = json.loads(stdout.strip().splitlines()[-1])
    return {
        "namespaces": len(cluster.namespaces),
        "pods": len(cluster.pods),
        "days": days,
        "step_seconds": step,
        "backfill_seconds": round(backfill_seconds, 1),
        "report_wall_seconds": round(timings["wall_seconds"], 2),
        "prometheus_share": round(timings["prometheus_seconds"] / timings["wall_seconds"], 3),
        "kubecharge_peak_rss_mib": round(kubecharge_peak / 2**20, 1),
        "prometheus_peak_rss_mib": round(prometheus_peak / 2**20, 1),
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
