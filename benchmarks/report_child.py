"""Run one `kubecharge report` in this process and print its timings as JSON (the benchmarks' child)."""

from __future__ import annotations

import argparse
import json
import resource
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from kubecharge import allocators, manifests
from kubecharge.cli import parse_moment
from kubecharge.domain import periods
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.pipeline.job import ReportJob, open_ledger, produce_report, s3_from_settings
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
    settings = Settings()
    spec = manifests.load_usage_report(args.report) if args.report is not None else UsageReportSpec()
    job = ReportJob(
        settings=settings, period=periods.parse(args.period),
        mappings=manifests.load_team_mappings(Path(args.mappings)), spec=spec,
        now=parse_moment(args.as_of) or datetime.now(UTC), runner="benchmark",
        s3=lambda: s3_from_settings(settings, spec), prometheus_url=args.prometheus,
        clusters=args.cluster or ["bench"], all_clusters=args.all_clusters, source="bench", folder=Path(args.out),
    )  # fmt: skip
    produced = produce_report(job, lambda: closing(open_ledger(args.db)))
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
