"""Benchmark: what request recommendations cost a report, and that a 14-day window stays inside Prometheus' limits.

    python -m benchmarks.recommendations_window --namespaces 50 --pods-per-namespace 20 --days 2 --step 60 \\
        --keep DIR

Recommendations need each container's CPU rate over 5-minute windows, so the history is scraped every `--step`
seconds (60: 5-minute rates need at least two samples a window; the month benchmark's 300 s cannot give them).
The window is the report's default, the 14 complete days before the period's end; the history holds the last
`--days` of them (generating 14 days at 60 s for 1,000 pods takes over an hour): the days before it are asked for
too and answer nothing. Each request covers one day, so what one request costs does not depend on the window.

Printed, all in one run against Prometheus at its default limits (`--query.max-samples` 50,000,000):
- `floor`: the recommendation queries themselves (5-minute CPU rates, hourly memory peaks, requests, autoscaler
  targets, the owners that resolve workloads), one day per request, one request at a time; the largest
  `peakSamples` of any request (what the limit is checked against) and the samples read;
- `off` / `on`: `kubecharge report` for the period on a full ledger with recommendations off, then on (every day
  of the window asked of Prometheus: the extra time recommendations cost), then on again (the days kept in the
  ledger: what every later run costs), each in a child process with its peak RSS.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from benchmarks.ledger_month import START, ensure_history
from benchmarks.measure import Shape, month_arguments, report_in_child, shape_of, work_folder
from kubecharge.collect.promql import RATE_STEP_SECONDS, build, recommendation_queries
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus
from kubecharge.synthetic.model import build_cluster

WINDOW_DAYS = 14
DEFAULT_MAX_SAMPLES = 50_000_000  # Prometheus' --query.max-samples


def recommendation_floor(url: str, queries: QuerySettings, start: Any, end: Any) -> dict[str, Any]:
    """Every query recommendations ask, one day per request, one request at a time, answers read and dropped."""
    asked = recommendation_queries(queries).as_dict()
    owners = {name: query for name, query in build(queries).as_dict().items()
              if name in {"pod_owners", "controller_owners"}}  # fmt: skip
    session = requests.Session()
    began, samples, peak, sent = time.perf_counter(), 0, 0, 0
    day = start
    while day < end:
        for name, query in {**asked, **owners}.items():
            step = RATE_STEP_SECONDS if name == "container_cpu_rates" else 3600
            form = {"query": query, "start": (day + timedelta(seconds=step)).timestamp(),
                    "end": (day + timedelta(days=1)).timestamp(), "step": str(step), "stats": "all"}  # fmt: skip
            answer = session.post(f"{url}/api/v1/query_range", data=form, timeout=600)
            answer.raise_for_status()
            stats = answer.json()["data"].get("stats", {}).get("samples", {})
            samples += int(stats.get("totalQueryableSamples", 0))
            peak = max(peak, int(stats.get("peakSamples", 0)))
            sent += 1
        day += timedelta(days=1)
    return {"seconds": time.perf_counter() - began, "requests": sent, "samples": samples, "peak_samples": peak}


def run(shape: Shape, work: Path) -> dict[str, Any]:
    cluster = build_cluster(START, days=shape.days, step_seconds=shape.step_seconds, size=shape.size())
    backfill_seconds = ensure_history(cluster, work)
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    end = START + timedelta(days=shape.days)
    period = f"{START:%Y-%m-%d}/{end:%Y-%m-%d}"
    database = work / "ledger.db"
    database.unlink(missing_ok=True)
    manifests = {}
    for name, enabled in (("off", False), ("on", True)):
        manifests[name] = work / f"report-{name}.yaml"
        manifests[name].write_text(yaml.safe_dump({
            "apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport", "metadata": {"name": "bench"},
            "spec": {"recommendations": {"enabled": enabled, "windowDays": WINDOW_DAYS}},
        }))  # fmt: skip
    settings = QuerySettings(state_metrics_interval_seconds=shape.step_seconds)
    with LocalPrometheus(work / "tsdb") as prometheus:
        base = ["--prometheus", prometheus.url, "--mappings", str(mappings), "--period", period,
                "--db", f"sqlite:///{database}", "--out", str(work / "out")]  # fmt: skip
        recommendation_floor(prometheus.url, settings, end - timedelta(days=WINDOW_DAYS), end)  # warm the cache
        found = recommendation_floor(prometheus.url, settings, end - timedelta(days=WINDOW_DAYS), end)
        report_in_child(prometheus, [*base, "--report", str(manifests["off"])])  # fills the ledger
        off = report_in_child(prometheus, [*base, "--report", str(manifests["off"])])
        on = report_in_child(prometheus, [*base, "--report", str(manifests["on"])])
        kept = report_in_child(prometheus, [*base, "--report", str(manifests["on"])])
    rows = list((work / "out" / "recommendations.csv").read_text().splitlines())[1:]
    return {
        "pods": len(cluster.pods),
        "history_days": shape.days,
        "window_days": WINDOW_DAYS,
        "step_seconds": shape.step_seconds,
        "backfill_seconds": round(backfill_seconds, 1),
        "floor_seconds": round(found["seconds"], 2),
        "floor_requests": found["requests"],
        "floor_samples": found["samples"],
        "largest_request_peak_samples": found["peak_samples"],
        "largest_request_share_of_limit": round(found["peak_samples"] / DEFAULT_MAX_SAMPLES, 4),
        "report_off_seconds": round(off["wall_seconds"], 2),
        "report_on_seconds": round(on["wall_seconds"], 2),
        "recommendations_extra_seconds": round(on["wall_seconds"] - off["wall_seconds"], 2),
        "recommendations_extra_vs_floor": round((on["wall_seconds"] - off["wall_seconds"]) / found["seconds"], 3),
        "report_on_peak_rss_mib": on["kubecharge_peak_rss_mib"],
        "report_off_peak_rss_mib": off["kubecharge_peak_rss_mib"],
        "report_kept_seconds": round(kept["wall_seconds"], 2),
        "prometheus_peak_rss_mib": on["prometheus_peak_rss_mib"],
        "recommendation_rows": len(rows),
        "recommendations_with_numbers": sum(1 for row in rows if row.split(",")[5]),
    }


def main() -> None:
    args = month_arguments(__doc__).parse_args()
    with work_folder(args.keep) as work:
        print(json.dumps(run(shape_of(args), work)), flush=True)


if __name__ == "__main__":
    main()
