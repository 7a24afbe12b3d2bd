"""Benchmark: a monthly report on an empty ledger and on a full one, against the floor of Prometheus work.

    python -m benchmarks.ledger_month --namespaces 50 --pods-per-namespace 20 --days 30 --step 300 --keep DIR

(1,000 pods on 20 nodes: `--nodes` and `--short-lived` change the shape.)

The floor is the minimal correct Prometheus work for the same report at namespace grain, measured in the same run:
every query kubecharge needs (its QuerySet) but those that resolve workloads, one day per request, one request at a
time, each answer read to the end and nothing else done with it (after one warm-up pass, so the floor and the
reports all find the TSDB in the page cache); the floor with the workload questions is printed beside it. Then, each
in a child process whose peak RSS is sampled with Prometheus':
- `empty`: `kubecharge report` for the month into a new database (every hour comes from Prometheus), with the
  ledger it leaves: rows and megabytes per table, and the database file's size;
- `full`: the same report again on that database (nothing to ask: the month is over);
- `tick`: one operator-style run in the middle of the month on the full ledger (`--as-of`): how many hours,
  queries and samples the steady state costs Prometheus.
Prometheus runs with its default query limits. `--keep DIR` keeps (and reuses) the generated TSDB. The reports run
with request recommendations off: at this history's 300 s scrape interval there are no 5-minute rates to measure,
and their cost is measured on a history fit for them by `benchmarks.recommendations_window`.

`--baseline DIR` (an earlier kubecharge checkout: `git worktree add DIR REV`) runs that code's report on the same
history into a database of its own, after the empty run: a before/after measured in one run against one floor. Its
mappings leave out those the earlier code may not know (pod selectors); everything else is the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.measure import (
    Shape,
    floor,
    ledger_size,
    month_arguments,
    namespace_grain,
    report_in_child,
    shape_of,
    work_folder,
)
from kubecharge.collect.promql import build as build_queries
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, build_cluster

START = datetime(2026, 10, 1, tzinfo=UTC)


def ensure_history(cluster: Cluster, work: Path) -> float:
    tsdb = work / "tsdb"
    if (work / "backfilled").exists():
        return 0.0
    began = time.perf_counter()
    hours = max(1, min(24, 30_000 // len(cluster.pods)))  # promtool holds a window in memory: ~30,000 pod-hours
    backfill(cluster, tsdb, work / "scratch", hours_per_window=hours, resume=True,
             on_window=lambda d, n: print(f"  backfilled window {d}/{n}", file=sys.stderr, flush=True))  # fmt: skip
    (work / "backfilled").touch()
    return time.perf_counter() - began


def run(shape: Shape, work: Path, baseline: Path | None = None) -> dict[str, Any]:
    size, days, step = shape.size(), shape.days, shape.step_seconds
    cluster = build_cluster(START, days=days, step_seconds=step, size=size)
    backfill_seconds = ensure_history(cluster, work)
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    end = START + timedelta(days=days)
    period = f"{START:%Y-%m-%d}/{end:%Y-%m-%d}"
    database = work / "ledger.db"
    database.unlink(missing_ok=True)
    report = work / "report.yaml"  # recommendations are measured on their own (benchmarks.recommendations_window)
    report.write_text(yaml.safe_dump({"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                      "metadata": {"name": "bench"},
                                      "spec": {"recommendations": {"enabled": False}}}))  # fmt: skip
    common = ["--mappings", str(mappings), "--period", period, "--db", f"sqlite:///{database}", "--report", str(report)]
    tick_at = START + timedelta(days=days // 2, hours=12, minutes=7)
    with LocalPrometheus(work / "tsdb") as prometheus:
        assert prometheus.process is not None
        idle_mib = psutil.Process(prometheus.process.pid).memory_info().rss / 2**20
        base = ["--prometheus", prometheus.url, *common]
        workload_queries = [build_queries(QuerySettings(state_metrics_interval_seconds=step))]
        queries = [namespace_grain(found) for found in workload_queries]
        floor(
            prometheus.url, workload_queries, START, end
        )  # a first pass warms Prometheus' page cache: both runs below find it warm
        floor_run = floor(prometheus.url, queries, START, end)  # the namespace grain's: what the report is held to
        workload_floor = floor(prometheus.url, workload_queries, START, end)
        empty = report_in_child(prometheus, [*base, "--out", str(work / "out-empty")])
        stored = ledger_size(database)
        before = _baseline(prometheus, baseline, cluster, work, period, floor_run["seconds"]) if baseline else {}
        full = report_in_child(prometheus, [*base, "--out", str(work / "out-full")])
        tick = report_in_child(prometheus, [*base, "--out", str(work / "out-tick"), "--as-of", tick_at.isoformat()])
        tick_hours = int(tick["hours_queried"])
        tick_floor = floor(prometheus.url, queries, tick_at.replace(minute=0) - timedelta(hours=tick_hours),
                           tick_at.replace(minute=0))  # fmt: skip
    return {
        "namespaces": len(cluster.namespaces),
        "pods": len(cluster.pods),
        "days": days,
        "step_seconds": step,
        "backfill_seconds": round(backfill_seconds, 1),
        "prometheus_idle_rss_mib": round(idle_mib, 1),
        "floor_seconds": round(floor_run["seconds"], 2),
        "floor_requests": floor_run["requests"],
        "floor_samples": floor_run["samples"],
        "workload_floor_seconds": round(workload_floor["seconds"], 2),
        "workload_floor_samples": workload_floor["samples"],
        "empty_ledger_seconds": round(empty["wall_seconds"], 2),
        "empty_ledger_vs_floor": round(empty["wall_seconds"] / floor_run["seconds"], 3),
        "empty_ledger_hours_queried": empty["hours_queried"],
        "empty_kubecharge_cpu_seconds": round(empty["cpu_seconds"], 1),
        "empty_kubecharge_peak_rss_mib": empty["kubecharge_peak_rss_mib"],
        "empty_prometheus_peak_rss_mib": empty["prometheus_peak_rss_mib"],
        **stored,
        "full_ledger_seconds": round(full["wall_seconds"], 3),
        "full_ledger_hours_queried": full["hours_queried"],
        "full_kubecharge_peak_rss_mib": full["kubecharge_peak_rss_mib"],
        "same_total_cost": empty["total_cost"] == full["total_cost"],
        "tick_seconds": round(tick["wall_seconds"], 3),
        "tick_hours_queried": tick_hours,
        "tick_requests": tick_floor["requests"],
        "tick_samples": tick_floor["samples"],
        "tick_samples_vs_floor_day": round(tick_floor["samples"] / max(1, floor_run["samples"] / days), 3),
        **before,
    }


def _baseline(prometheus: LocalPrometheus, checkout: Path, cluster: Cluster, work: Path, period: str,
              floor_seconds: float) -> dict[str, Any]:  # fmt: skip
    """The earlier checkout's report for the same month into a new database: its time, memory and ledger."""
    mappings = work / "teams-baseline.yaml"
    plain = [m for m in cluster.team_mappings
             if not (isinstance(spec := m.get("spec"), dict) and "podSelector" in spec)]  # fmt: skip
    mappings.write_text(yaml.safe_dump_all(plain))
    database = work / "ledger-baseline.db"
    database.unlink(missing_ok=True)
    args = ["--prometheus", prometheus.url, "--mappings", str(mappings), "--period", period,
            "--db", f"sqlite:///{database}", "--out", str(work / "out-baseline")]  # fmt: skip
    found = report_in_child(prometheus, args, checkout=checkout)
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    return {
        "baseline_commit": commit,
        "baseline_empty_ledger_seconds": round(found["wall_seconds"], 2),
        "baseline_empty_ledger_vs_floor": round(found["wall_seconds"] / floor_seconds, 3),
        "baseline_kubecharge_cpu_seconds": round(found["cpu_seconds"], 1),
        "baseline_kubecharge_peak_rss_mib": found["kubecharge_peak_rss_mib"],
        "baseline_prometheus_peak_rss_mib": found["prometheus_peak_rss_mib"],
        **{f"baseline_{key}": value for key, value in ledger_size(database).items()},
    }


def main() -> None:
    parser = month_arguments(__doc__)
    parser.add_argument("--baseline", type=Path, help="An earlier kubecharge checkout to measure beside this one.")
    args = parser.parse_args()
    with work_folder(args.keep) as work:
        print(json.dumps(run(shape_of(args), work, args.baseline)), flush=True)


if __name__ == "__main__":
    main()
