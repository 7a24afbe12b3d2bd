"""Benchmark: forecast backtest. Each of three synthetic months is forecast from its first half, and the forecast
of every team's month-end cost is compared with what the generator's truth says the month cost.

    python -m benchmarks.forecast_backtest --pods-per-namespace 1 --step 600 --keep DIR

The cluster is the designed one plus the seasonal team (weekly patterns, a slow ramp, spikes and outage days
every six weeks), from June to September 2026, so each month has four weeks of history before it. For each
month, `kubecharge report --as-of <month>-16T00:10Z` runs on a fresh database over the Prometheus (it collects
the month's first half and the four weeks before it), and again on the warm ledger. Figures: the mean absolute
percentage error of the month-end cost per team (teams costing at least 1 USD a month), the share of team-months
whose actual cost lies in the 80 % interval, and the cold and warm run times against the floor (every query of
the QuerySet over the same hours, one day per request).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from benchmarks.ledger_month import ensure_history
from benchmarks.measure import floor, work_folder
from kubecharge.collect.promql import build as build_queries
from kubecharge.domain.reports import Pricing
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.local_prometheus import LocalPrometheus
from kubecharge.synthetic.model import Size, Truth, build_cluster, truth

START = datetime(2026, 6, 1, tzinfo=UTC)
MONTHS = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))
END = datetime(2026, 10, 1, tzinfo=UTC)
PRICED = {"cpu_core_hours_max": "cpu_core_hour", "memory_gib_hours_max": "memory_gib_hour",
          "gpu_hours_request": "gpu_hour", "storage_gib_hours": "storage_gib_hour",
          "network_gib": "network_gib"}  # fmt: skip
MIN_MONTH_COST = 1.0


def month_costs(model: Truth, start: datetime, end: datetime) -> dict[str, float]:
    """Each team's direct cost over [start, end) at the default list prices, from the truth."""
    prices = Pricing()
    return {team: sum(values.get(q, 0.0) * float(getattr(prices, field)) for q, field in PRICED.items())
            for team, values in model.by_team(start, end).items()}  # fmt: skip


def report(url: str, mappings: Path, db: Path, out: Path, period: str, as_of: str) -> tuple[dict[str, Any], float]:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kubecharge", "report", "--prometheus", url, "--mappings", str(mappings),
                    "--period", period, "--as-of", as_of, "--out", str(out), "--db", f"sqlite:///{db}",
                    "--cluster", "synthetic", "--force"], check=True, capture_output=True)  # fmt: skip
    return json.loads((out / "chargeback.json").read_text()), time.perf_counter() - began


def run(pods_per_namespace: int, step: int, work: Path) -> dict[str, Any]:
    size = Size(pods_per_namespace=pods_per_namespace, nodes=2, gpu_nodes=0, autoscaled_node=False, seasonal=True,
                rightsizing=False,
                short_lived=False)  # fmt: skip
    cluster = build_cluster(START, days=(END - START).days, step_seconds=step, size=size)
    model = truth(cluster)
    backfill_seconds = ensure_history(cluster, work)
    mappings = work / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    errors, inside, months, excluded = [], 0, [], set()
    with LocalPrometheus(work / "tsdb") as prometheus:
        for month in MONTHS:
            half = month + timedelta(days=15)
            database = work / f"ledger-{month:%Y-%m}.db"
            database.unlink(missing_ok=True)
            as_of = f"{half:%Y-%m-%d}T00:10Z"
            cold, cold_seconds = report(prometheus.url, mappings, database, work / "out", f"{month:%Y-%m}", as_of)
            _, warm_seconds = report(prometheus.url, mappings, database, work / "out", f"{month:%Y-%m}", as_of)
            base = floor(prometheus.url, [build_queries(QuerySettings())], month - timedelta(days=28), half)
            next_month = (month + timedelta(days=32)).replace(day=1)
            actual = month_costs(model, month, next_month)
            teams = []
            for item in cold["forecast"]["teams"]:
                cost = actual.get(item["team"], 0.0)
                if cost < MIN_MONTH_COST:
                    excluded.add(item["team"])
                    continue
                error = abs(item["cost"] - cost) / cost
                errors.append(error)
                held = item["lower"] <= cost <= item["upper"]
                inside += held
                teams.append({"team": item["team"], "forecast": round(item["cost"], 2), "actual": round(cost, 2),
                              "error_pct": round(100 * error, 2), "in_interval": held})  # fmt: skip
            months.append({"month": f"{month:%Y-%m}", "cold_seconds": round(cold_seconds, 2),
                           "warm_seconds": round(warm_seconds, 2), "floor_seconds": round(base["seconds"], 2),
                           "cold_over_floor": round(cold_seconds / base["seconds"], 2), "teams": teams})  # fmt: skip
    return {
        "pods": len(cluster.pods), "step_seconds": step, "backfill_seconds": round(backfill_seconds, 1),
        "team_months": len(errors), "mape_pct": round(100 * sum(errors) / len(errors), 2),
        "interval_coverage_pct": round(100 * inside / len(errors), 1), "excluded_teams": sorted(excluded),
        "months": months,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods-per-namespace", type=int, default=1)
    parser.add_argument("--step", type=int, default=600)
    parser.add_argument("--keep", type=Path, help="Keep the generated history here (and reuse it next time).")
    args = parser.parse_args()
    with work_folder(args.keep) as work:
        print(json.dumps(run(args.pods_per_namespace, args.step, work), indent=1), flush=True)


if __name__ == "__main__":
    main()
