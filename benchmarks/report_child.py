"""Run one `kubecharge report` in this process and print its timings as JSON (the benchmarks' child)."""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from kubecharge import allocators
from kubecharge.cli import parse_moment
from kubecharge.jobs import produce_report
from kubecharge.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    for option in ("--prometheus", "--mappings", "--period", "--out", "--db"):
        parser.add_argument(option, required=True)
    parser.add_argument("--as-of")
    parser.add_argument("--report", type=Path, help="a UsageReport manifest (prices, cost model)")
    parser.add_argument("--cluster", action="append", help="repeatable; default: one unlabelled cluster, bench")
    parser.add_argument("--all-clusters", action="store_true")
    args = parser.parse_args()
    allocators.bound()  # as `kubecharge` does when it starts
    began = time.perf_counter()
    produced = produce_report(
        settings=Settings(),
        prometheus=args.prometheus,
        mappings_path=Path(args.mappings),
        period_text=args.period,
        out=Path(args.out),
        report_path=args.report,
        db=args.db,
        clusters=args.cluster or ["bench"],
        all_clusters=args.all_clusters,
        as_of=parse_moment(args.as_of),
        source="bench",
    )
    print(
        json.dumps(
            {
                "wall_seconds": time.perf_counter() - began,
                "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "prometheus_seconds": produced.seconds_waiting_on_prometheus,
                "hours_queried": produced.result.hours_queried,
                "total_cost": produced.result.chargeback.total_allocated,  # = the direct total without full cost
            }
        )
    )


if __name__ == "__main__":
    main()
